// `pyramidion quantize MODEL -o OUT`: an int8 model file (int8 weights per output row, ~4x smaller weights) that
// `summarize`, `evaluate`, `serve`, `highlight` and the library load without re-quantizing.
#include <spdlog/spdlog.h>

#include <memory>

#include "command.h"
#include "output_paths.h"
#include "pyramidion/models/model_quantization.h"

namespace pyramidion::cli {
namespace {

struct QuantizeOptions {
  std::string input;
  std::string output;
};

void run(const QuantizeOptions& o) {
  refuse_output_over_input(o.output, {o.input});
  QuantizationResult result;
  try {
    result = quantize_model_file(o.input, o.output);
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
  const auto mib = [](int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); };
  spdlog::info(
      "wrote {}: int8 weights {:.1f} MiB (float32 {:.1f} MiB, {:.2f}x smaller), file {:.1f} MiB (was {:.1f} MiB)",
      o.output, mib(result.weight_bytes_after), mib(result.weight_bytes_before),
      static_cast<double>(result.weight_bytes_before) / static_cast<double>(result.weight_bytes_after),
      mib(result.file_bytes_after), mib(result.file_bytes_before));
}

}  // namespace

PYRAMIDION_COMMAND("quantize", [](CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  auto* cmd = app.add_subcommand("quantize", "write an int8 model file (int8 weights, float32 activations)");
  cmd->add_option("model", o->input, "float model file or checkpoint")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", o->output, "the int8 model file")->required();
  cmd->callback([o] { run(*o); });
});

}  // namespace pyramidion::cli
