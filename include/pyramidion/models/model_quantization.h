#pragma once
// `pyramidion quantize`: a float model file (or checkpoint) rewritten as an int8 model file (format version 3,
// models/model_file.h) that loads without re-quantizing and computes exactly as the float file quantized at load.
#include <cstdint>
#include <string>

namespace pyramidion {

struct QuantizationResult {
  int64_t weight_bytes_before = 0;  // every parameter and buffer, as stored
  int64_t weight_bytes_after = 0;
  int64_t file_bytes_before = 0;
  int64_t file_bytes_after = 0;
};

// Reads `input` (refused when it is already int8), quantizes (SummarizationModelImpl::quantize_int8) and writes
// `output` atomically with the same config, tokenizer and metadata (a checkpoint's training state dropped: the
// result is a model file). Throws std::runtime_error naming the file.
QuantizationResult quantize_model_file(const std::string& input, const std::string& output);

}  // namespace pyramidion
