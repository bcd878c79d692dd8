#include "model_loading.h"

#include <stdexcept>

#include "command.h"
#include "pyramidion/util/device.h"

namespace pyramidion::cli {

c10::Device parse_device(const std::string& name) {
  try {
    return pyramidion::parse_device(name);
  } catch (const std::invalid_argument& e) {
    throw CommandError(std::string("--device ") + e.what());
  }
}

void add_model_loading_options(CLI::App& app, SummarizerOptions& options) {
  options.device = "auto";
  app.add_option("--device", options.device, "auto, cpu, cuda, cuda:N")->capture_default_str();
  app.add_option("--dtype", options.dtype, "weights and activations: float32, float64, bfloat16, float16 (CUDA)")
      ->capture_default_str();
}

Summarizer load_summarizer(const std::string& path, const SummarizerOptions& options) {
  try {
    return Summarizer::load(path, options);
  } catch (const std::invalid_argument& e) {
    throw CommandError(std::string("--") + e.what());  // "device cuda: ..." / "dtype x: ..."
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
}

}  // namespace pyramidion::cli
