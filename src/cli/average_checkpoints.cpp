// `pyramidion average-checkpoints`: averages the weights of several checkpoints into one model file, given as
// files or picked from a run directory (--dir RUN --last N periodic checkpoints, or --best N kept best ones).
#include <spdlog/spdlog.h>

#include <memory>

#include "command.h"
#include "output_paths.h"
#include "pyramidion/training/checkpoint_averaging.h"

namespace pyramidion::cli {
namespace {

struct AverageOptions {
  std::vector<std::string> inputs;
  std::string dir;
  int64_t last = 0;
  int64_t best = 0;
  std::string output;
};

void run(const AverageOptions& o) {
  std::vector<std::string> inputs = o.inputs;
  try {
    if (!o.dir.empty()) {
      if ((o.last > 0) == (o.best > 0)) throw CommandError("--dir: give exactly one of --last N or --best N");
      const auto picked =
          o.last > 0 ? last_periodic_checkpoints(o.dir, o.last) : best_ranked_checkpoints(o.dir, o.best);
      if (o.last > 0)
        if (const std::string gap = periodic_gap_warning(o.dir, picked); !gap.empty())
          spdlog::warn("--last {}: {}", o.last, gap);
      inputs.insert(inputs.end(), picked.begin(), picked.end());
    } else if (o.last > 0 || o.best > 0) {
      throw CommandError("--last / --best pick checkpoints from a run directory: give --dir RUN_DIR");
    }
    if (inputs.size() < 2 && o.dir.empty()) throw CommandError("average-checkpoints: give at least two checkpoints");
    refuse_output_over_input(o.output, inputs);
    const auto result = average_checkpoints(inputs, o.output);
    spdlog::info("averaged {} checkpoints ({} tensors, {} values) into {}", result.inputs.size(), result.tensors,
                 result.elements, o.output);
    for (const auto& input : result.inputs) spdlog::info("  {}", input);
  } catch (const CommandError&) {
    throw;
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
}

}  // namespace

PYRAMIDION_COMMAND("average-checkpoints", [](CLI::App& app) {
  auto o = std::make_shared<AverageOptions>();
  auto* cmd = app.add_subcommand("average-checkpoints", "average the weights of checkpoints into one model file");
  cmd->add_option("inputs", o->inputs, "model files or checkpoints (same architecture and tokenizer)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--dir", o->dir, "run directory to pick checkpoints from (with --last or --best)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--last", o->last, "the newest N periodic checkpoints checkpoint_<update>.pt")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--best", o->best, "the N best kept checkpoints (training.keep_best_checkpoints)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-o,--output", o->output, "the averaged model file")->required();
  cmd->callback([o] { run(*o); });
});

}  // namespace pyramidion::cli
