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
  app.add_option("--compute-type", options.compute_type,
                 "float32, int8 (= int8_float32: int8 weights, float32 activations; CPU), bfloat16, auto (the fastest "
                 "this device supports), default (the model file's own type); also float64, float16 (CUDA)")
      ->check(CLI::IsMember({"default", "auto", "float32", "int8", "int8_float32", "bfloat16", "float64", "float16"}))
      ->capture_default_str();
  app.add_option("--dtype", options.dtype,
                 "deprecated: the earlier name of --compute-type (float32, float64, bfloat16, "
                 "float16); used when --compute-type is default")
      ->capture_default_str();
}

Summarizer load_summarizer(const std::string& path, const SummarizerOptions& options) {
  try {
    return Summarizer::load(path, options);
  } catch (const std::invalid_argument& e) {
    // "device cuda: ..." / "dtype x: ..." / "compute_type int4: ..." -> the option as typed.
    std::string message = e.what();
    if (message.rfind("compute_type ", 0) == 0) message = "compute-type " + message.substr(13);
    throw CommandError("--" + message);
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
}

}  // namespace pyramidion::cli
