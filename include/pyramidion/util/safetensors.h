#pragma once
// The safetensors file format (Hugging Face's model.safetensors), from its public spec:
//   u64 little-endian N | N bytes of JSON header | data
// The header maps each tensor name to {"dtype": "F32"|"F16"|"BF16"|"F64"|"I64"|"I32"|"I16"|"I8"|"U8"|"BOOL",
// "shape": [...], "data_offsets": [begin, end]} (offsets into the data, which follows the header), and may hold
// "__metadata__": {string: string}. Tensors are C-contiguous little-endian; they neither overlap nor leave gaps.
#include <torch/types.h>

#include <map>
#include <string>

#include "pyramidion/util/tensor_archive.h"

namespace pyramidion {

struct SafetensorsContents {
  NamedTensors tensors;                         // CPU tensors in data order (dtype as stored)
  std::map<std::string, std::string> metadata;  // __metadata__ (empty when none)
};

// Parses `bytes`; throws std::runtime_error "<origin>: ..." (one line, naming the tensor where one is at fault)
// on a truncated file, a bad header, an unknown dtype, offsets outside the data or not matching the shape.
SafetensorsContents parse_safetensors(const std::string& bytes, const std::string& origin);
SafetensorsContents read_safetensors(const std::string& path);

// Tensors are copied to the CPU and made contiguous; the header is padded with spaces to 8 bytes (as the
// reference writer does). Throws std::runtime_error on a dtype the format has no name for.
std::string serialize_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata = {});
// Written to a temporary file beside `path`, then renamed over it.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace pyramidion
