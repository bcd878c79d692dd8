#pragma once
// The model file: everything needed to use a trained model (config, tokenizer, weights, metadata) in one file.
//
// Layout (little-endian):
//   header   "PYRMODEL" (8 bytes) | u32 format version | u32 section count | u64 total file size
//   sections tag (4 ASCII bytes) | u64 payload size | payload, for CONF (config YAML), TOKN (tokenizer model
//            bytes, opaque), WGHT (tensor archive of the weights, util/tensor_archive.h), META (JSON text)
//   trailer  u64 FNV-1a-64 checksum of every byte before it
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "pyramidion/models/model_config.h"
#include "pyramidion/models/summarization_model.h"

namespace pyramidion {

constexpr uint32_t kModelFileVersion = 2;  // 2: weights as a pyramidion tensor archive (util/tensor_archive.h)
// 3: the same layout with int8 weights (`pyramidion quantize`): each quantized matrix X.weight is int8 (out, in)
// with X.weight_scale (out) float32 beside it (SummarizationModelImpl::quantize_int8). Float models are still
// written as version 2, so readers that know only version 2 keep reading them, and refuse an int8 file with
// "model file format version 3 is not supported (this build reads version 2)".
constexpr uint32_t kModelFileInt8Version = 3;

// The raw sections, for tools that inspect or rewrite a file without building the model.
struct ModelFileContents {
  std::string config_yaml;
  std::string tokenizer_bytes;
  std::string weights;  // util/tensor_archive.h bytes
  std::string metadata_json = "null";
  bool int8 = false;  // version 3: the weights hold int8 matrices
};

// Writes to a temporary file beside `path`, then renames it over `path` (readers never see half a file).
// Throws std::runtime_error naming the file on I/O errors.
void write_model_file_contents(const std::string& path, const ModelFileContents& contents);
// Checks magic, version, size and checksum; throws std::runtime_error "<path>: <what is wrong>" (one line).
ModelFileContents read_model_file_contents(const std::string& path);

// An int8 model (model->is_int8()) is written as version 3.
void save_model_file(const std::string& path, SummarizationModel& model, const std::string& tokenizer_bytes,
                     const nlohmann::json& metadata = nullptr);

struct LoadedModel {
  ModelConfig config;
  SummarizationModel model{nullptr};  // in eval mode, on the requested device
  std::string tokenizer_bytes;
  nlohmann::json metadata;  // null when none was saved
  bool int8 = false;        // an int8 file (version 3): the model holds int8 weights (is_int8())
};

// Copies a WGHT section into `model`; errors name `path` (a vocabulary mismatch is named as such).
void load_model_weights(SummarizationModelImpl& model, const std::string& weights, const std::string& path);

// Also checks that the weights match the config (names and shapes; a vocabulary mismatch is named as such).
LoadedModel load_model_file(const std::string& path, torch::Device device = torch::kCPU);

}  // namespace pyramidion
