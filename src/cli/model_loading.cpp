#include "model_loading.h"

#include <torch/torch.h>

#include <filesystem>

#include "command.h"

namespace pyramidion::cli {

torch::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw CommandError("--device " + name + ": this build or machine has no CUDA device");
    return device;
  } catch (const c10::Error&) {
    throw CommandError("--device " + name + ": not a device (cpu, cuda, cuda:N, auto)");
  }
}

Summarizer load_summarizer(const std::string& path, const torch::Device& device) {
  if (!std::filesystem::exists(path)) throw CommandError(path + ": no such model file");
  try {
    auto loaded = load_model_file(path, device);
    if (loaded.tokenizer_bytes.empty()) throw CommandError(path + ": the model file holds no tokenizer");
    auto tokenizer = data::SentencePieceTokenizer::from_bytes(loaded.tokenizer_bytes);
    check_vocabulary(loaded.config, tokenizer.vocab_size(), path);
    return {std::move(loaded), std::move(tokenizer)};
  } catch (const CommandError&) {
    throw;
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
}

}  // namespace pyramidion::cli
