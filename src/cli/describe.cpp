// pyramidion describe: what a config's architecture costs (lengths per layer, attention FLOPs and memory).
#include <iostream>
#include <string>
#include <vector>

#include "command.h"
#include "numeric_checks.h"
#include "pyramidion/models/architecture_summary.h"
#include "pyramidion/models/presets.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion::cli {
namespace {

struct DescribeOptions {
  std::string config;
  std::string preset;
  std::vector<std::string> overrides;
  bool json = false;
  int64_t source_length = 0;
  int64_t target_length = 0;
  int64_t bytes_per_element = 4;
};

void run_describe(const DescribeOptions& o) {
  if (o.config.empty() == o.preset.empty()) throw CommandError("give exactly one of -c CONFIG.yaml or --preset NAME");
  ModelConfig config;
  ArchitectureSummary summary;
  try {
    config = resolve_run_config(o.config, o.preset, o.overrides, 0).model;
    summary = summarize_architecture(config, {o.source_length, o.target_length, o.bytes_per_element});
  } catch (const std::invalid_argument& e) {
    throw CommandError(e.what());
  }
  if (o.json) {
    std::cout << summary.to_json().dump(2) << "\n";
    return;
  }
  std::cout << "model: " << (o.preset.empty() ? o.config : "preset " + o.preset) << "\n";
  std::cout << "  d_model " << config.d_model << ", heads " << config.attention_heads << ", ffn " << config.ffn_dim
            << ", layers " << config.encoder_layers << "+" << config.decoder_layers << ", vocab " << config.vocab_size
            << ", chunk " << (config.chunk_size > 0 ? std::to_string(config.chunk_size) : std::string("full")) << "\n";
  if (config.copy_attention)
    std::cout << "  copy attention: decoder layer " << config.resolved_alignment_layer() << ", first "
              << config.alignment_heads << " head(s) point into the "
              << (config.pooling.schedule.empty() ? "" : "pooled ") << "memory\n";
  std::cout << summary.to_text();
}

}  // namespace

PYRAMIDION_COMMAND("describe", [](CLI::App& app) {
  auto options = std::make_shared<DescribeOptions>();
  auto* cmd =
      app.add_subcommand("describe", "Print a model architecture: lengths per layer, parameters, attention cost");
  cmd->add_option("-c,--config", options->config, "model config YAML file");
  cmd->add_option("--preset", options->preset, "preset name (configs/<name>.yaml)");
  cmd->add_option("--set", options->overrides, "override a key, e.g. --set d_model=256 --set pooling={0: 512}")
      ->take_all();
  cmd->add_flag("--json", options->json, "machine-readable output");
  cmd->add_option("--source-length", options->source_length, "source tokens (default: max_source_positions)")
      ->check(non_negative_number());
  cmd->add_option("--target-length", options->target_length, "target tokens (default: max_target_positions)")
      ->check(non_negative_number());
  cmd->add_option("--bytes-per-element", options->bytes_per_element, "activation element size (4 = fp32, 2 = bf16)")
      ->check(number_range(1, 16));
  cmd->callback([options] { run_describe(*options); });
});

}  // namespace pyramidion::cli
