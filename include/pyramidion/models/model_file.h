#pragma once
// The model file: everything needed to use a trained model (config, tokenizer, weights, metadata) in one file.
//
// Layout (little-endian):
//   header   "PYRMODEL" (8 bytes) | u32 format version | u32 section count | u64 total file size
//   sections tag (4 ASCII bytes) | u64 payload size | payload, for CONF (config YAML), TOKN (tokenizer model
//            bytes, opaque), WGHT (tensor archive of the weights, util/tensor_archive.h), META (JSON text)
//   trailer  u64 FNV-1a-64 checksum of every byte before it
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "pyramidion/models/model_config.h"
#include "pyramidion/models/summarization_model.h"

namespace pyramidion {

constexpr uint32_t kModelFileVersion = 2;  // 2: weights as a pyramidion tensor archive (util/tensor_archive.h)

// The raw sections, for tools that inspect or rewrite a file without building the model.
struct ModelFileContents {
  std::string config_yaml;
  std::string tokenizer_bytes;
  std::string weights;  // util/tensor_archive.h bytes
  std::string metadata_json = "null";
};

// Writes to a temporary file beside `path`, then renames it over `path` (readers never see half a file).
// Throws std::runtime_error naming the file on I/O errors.
void write_model_file_contents(const std::string& path, const ModelFileContents& contents);
// Checks magic, version, size and checksum; throws std::runtime_error "<path>: <what is wrong>" (one line).
ModelFileContents read_model_file_contents(const std::string& path);

void save_model_file(const std::string& path, SummarizationModel& model, const std::string& tokenizer_bytes,
                     const nlohmann::json& metadata = nullptr);

struct LoadedModel {
  ModelConfig config;
  SummarizationModel model{nullptr};  // in eval mode, on the requested device
  std::string tokenizer_bytes;
  nlohmann::json metadata;  // null when none was saved
};

// Copies a WGHT section into `model`; errors name `path` (a vocabulary mismatch is named as such).
void load_model_weights(SummarizationModelImpl& model, const std::string& weights, const std::string& path);

// Also checks that the weights match the config (names and shapes; a vocabulary mismatch is named as such).
LoadedModel load_model_file(const std::string& path, torch::Device device = torch::kCPU);

}  // namespace pyramidion
