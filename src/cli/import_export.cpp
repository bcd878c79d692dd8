// `pyramidion import --from hf DIR -o model.pt [--max-source-positions N] [--chunk-size N] [--pooling "{l: w}"]`:
// a Hugging Face BART / PEGASUS checkpoint folder (or, --from fairseq, a fairseq transformer / BART checkpoint)
// as a pyramidion model file, optionally converted for long
// inputs (models/long_input_conversion.h); then `train --init-from model.pt`.
// `pyramidion export MODEL --to hf DIR`: config.json + model.safetensors (+ spiece.model) for a model HF can
// represent (no pooling, full attention); import of that folder gives the same tensors back.
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <memory>

#include "command.h"
#include "pyramidion/models/fairseq_import.h"
#include "pyramidion/models/hf_import.h"
#include "pyramidion/models/long_input_conversion.h"
#include "pyramidion/models/model_file.h"

namespace pyramidion::cli {
namespace {

struct ImportOptions {
  std::string from = "hf";
  std::string input;
  std::string output;
  int64_t max_source_positions = 0;
  int64_t chunk_size = -1;
  std::string pooling;  // "{layer: width, ...}"
};

std::map<int64_t, int64_t> parse_pooling(const std::string& text) {
  std::map<int64_t, int64_t> schedule;
  if (text.empty()) return schedule;
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw CommandError("--pooling: not YAML (" + e.msg + "); expected {layer: width, ...}");
  }
  if (!node.IsMap()) throw CommandError("--pooling: expected {layer: width, ...}, got '" + text + "'");
  try {
    for (const auto& item : node) schedule[item.first.as<int64_t>()] = item.second.as<int64_t>();
  } catch (const YAML::Exception&) {
    throw CommandError("--pooling: layers and widths must be integers, got '" + text + "'");
  }
  return schedule;
}

void run_import(const ImportOptions& o) {
  if (o.from != "hf" && o.from != "fairseq") throw CommandError("--from " + o.from + ": not supported (hf, fairseq)");
  const std::map<int64_t, int64_t> pooling = parse_pooling(o.pooling);
  ImportedModel imported;
  try {
    imported = o.from == "hf" ? import_hf_checkpoint(o.input) : import_fairseq_checkpoint(o.input);
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
  SummarizationModel model = imported.model;
  if (o.max_source_positions != 0 || o.chunk_size >= 0 || !pooling.empty()) {
    LongInputOptions options;
    options.max_source_positions = o.max_source_positions;
    options.chunk_size = o.chunk_size;
    options.pooling = pooling;
    try {
      model = convert_to_long_input(*model, options);
    } catch (const std::invalid_argument& e) {
      throw CommandError(std::string("long-input conversion: ") + e.what());
    }
    imported.metadata["imported_from"]["long_input"] = {
        {"max_source_positions", o.max_source_positions}, {"chunk_size", o.chunk_size}, {"pooling", o.pooling}};
  }
  try {
    save_model_file(o.output, model, imported.tokenizer_bytes, imported.metadata);
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
  const ModelConfig& c = model->config();
  spdlog::info(
      "wrote {}: {} ({} parameters, d_model {}, {}+{} layers, max_source_positions {}, chunk_size {}, "
      "{} pooling layers)",
      o.output, imported.architecture, model->parameter_count(), c.d_model, c.encoder_layers, c.decoder_layers,
      c.max_source_positions, c.chunk_size, c.pooling.schedule.size());
}

struct ExportOptions {
  std::string input;
  std::string to = "hf";
  std::string output;
};

void run_export(const ExportOptions& o) {
  if (o.to != "hf") throw CommandError("--to " + o.to + ": not supported (hf)");
  try {
    LoadedModel loaded = load_model_file(o.input);
    export_hf_checkpoint(*loaded.model, o.output, loaded.tokenizer_bytes);
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
  spdlog::info("wrote {}/config.json and {}/model.safetensors", o.output, o.output);
}

}  // namespace

PYRAMIDION_COMMAND("import", [](CLI::App& app) {
  auto o = std::make_shared<ImportOptions>();
  auto* cmd = app.add_subcommand("import", "a Hugging Face BART / PEGASUS or fairseq checkpoint as a model file");
  cmd->add_option("--from", o->from, "checkpoint kind: hf (a folder) or fairseq (a checkpoint .pt)")
      ->capture_default_str();
  cmd->add_option("checkpoint", o->input,
                  "hf: the folder (config.json, model.safetensors or pytorch_model.bin); fairseq: the .pt file")
      ->required();
  cmd->add_option("-o,--output", o->output, "the model file")->required();
  cmd->add_option("--max-source-positions", o->max_source_positions,
                  "longer encoder input (learned positions extended by copying, as LED)");
  cmd->add_option("--chunk-size", o->chunk_size, "blockwise encoder self-attention block (0 = full attention)");
  cmd->add_option("--pooling", o->pooling, "pooling schedule {encoder_layer: width, ...} (new scorers)");
  cmd->callback([o] { run_import(*o); });
});

PYRAMIDION_COMMAND("export", [](CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  auto* cmd = app.add_subcommand("export", "a model file as a Hugging Face checkpoint folder (no pooling)");
  cmd->add_option("model", o->input, "model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--to", o->to, "checkpoint kind: hf")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "the folder (config.json, model.safetensors)")->required();
  cmd->callback([o] { run_export(*o); });
});

}  // namespace pyramidion::cli
