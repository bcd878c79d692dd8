#include "pyramidion/models/model_quantization.h"

#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>

#include "pyramidion/models/model_file.h"
#include "pyramidion/util/tensor_archive.h"

namespace pyramidion {
namespace {

int64_t stored_bytes(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& [name, tensor] : module_tensors(module)) total += static_cast<int64_t>(tensor.nbytes());
  return total;
}

}  // namespace

QuantizationResult quantize_model_file(const std::string& input, const std::string& output) {
  LoadedModel loaded = load_model_file(input);
  if (loaded.int8) throw std::runtime_error(input + ": already an int8 model file");
  QuantizationResult result;
  result.weight_bytes_before = stored_bytes(*loaded.model);
  result.file_bytes_before = static_cast<int64_t>(std::filesystem::file_size(input));
  loaded.model->quantize_int8();
  result.weight_bytes_after = stored_bytes(*loaded.model);
  nlohmann::json metadata = loaded.metadata;
  if (metadata.is_object()) {  // a model file, not a checkpoint to resume
    metadata.erase("training_state");
    metadata.erase("state_file");
  } else {
    metadata = nlohmann::json::object();
  }
  metadata["compute_type"] = "int8_float32";
  save_model_file(output, loaded.model, loaded.tokenizer_bytes, metadata);
  result.file_bytes_after = static_cast<int64_t>(std::filesystem::file_size(output));
  return result;
}

}  // namespace pyramidion
