// `pyramidion info MODEL_OR_CHECKPOINT`: what a model file or training checkpoint holds (config, parameters,
// tokenizer and its special ids, metadata, training state and state file when it is a checkpoint), as a table or
// JSON (--json). Reads and checks the file (magic, version, checksum, weights against the config).
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

#include "command.h"
#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/data/tokenizer.h"
#include "pyramidion/models/model_file.h"
#include "pyramidion/util/yaml_json.h"

namespace pyramidion::cli {
namespace {

struct InfoOptions {
  std::string path;
  bool json = false;
};

nlohmann::ordered_json describe_file(const std::string& path) {
  if (!std::filesystem::exists(path)) throw CommandError(path + ": no such model file or checkpoint");
  LoadedModel loaded;
  try {
    loaded = load_model_file(path);
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
  nlohmann::ordered_json info;
  info["path"] = path;
  info["format_version"] = loaded.int8 ? kModelFileInt8Version : kModelFileVersion;
  // The type the weights are stored in (what `--compute-type default` computes in).
  info["compute_type"] = loaded.int8 ? "int8_float32" : "float32";
  const bool checkpoint = loaded.metadata.is_object() && loaded.metadata.contains("training_state");
  info["kind"] = checkpoint ? "checkpoint" : "model";
  info["parameters"] = loaded.model->parameter_count();
  info["config"] = nlohmann::ordered_json::object();
  {
    // The config's own YAML keys, in documentation order (scalars as written, sections as nested maps).
    const YAML::Node node = loaded.config.to_yaml()["model"];
    for (const auto& key : ModelConfig::keys()) {
      const YAML::Node value = node[key];
      if (value) info["config"][key] = yaml_to_json<nlohmann::ordered_json>(value);
    }
  }
  nlohmann::ordered_json tokenizer;
  if (loaded.tokenizer_bytes.empty()) {
    tokenizer = nullptr;
  } else {
    try {
      const auto t = data::Tokenizer::from_bytes(loaded.tokenizer_bytes);
      tokenizer["kind"] = t.kind();
      tokenizer["vocab_size"] = t.vocab_size();
      tokenizer["bytes"] = loaded.tokenizer_bytes.size();
      tokenizer["checksum"] = data::tokenizer_checksum_text(data::tokenizer_checksum(loaded.tokenizer_bytes));
      tokenizer["special_ids"] = {{"pad", t.pad_id()},
                                  {"unk", t.unk_id()},
                                  {"bos", t.bos_id()},
                                  {"eos", t.eos_id()},
                                  {"sep", t.sentence_separator_id()}};
    } catch (const std::exception& e) {
      throw CommandError(path + ": the embedded tokenizer cannot be read: " + e.what());
    }
  }
  info["tokenizer"] = tokenizer;
  if (checkpoint) {
    info["training_state"] = loaded.metadata["training_state"];
    if (loaded.metadata.contains("state_file") && loaded.metadata["state_file"].is_string()) {
      const auto state = std::filesystem::path(path).parent_path() / loaded.metadata["state_file"].get<std::string>();
      info["state_file"] = {{"path", state.string()}, {"exists", std::filesystem::exists(state)}};
    }
  }
  info["metadata"] = loaded.metadata;
  return info;
}

void print_table(const nlohmann::ordered_json& info) {
  fmt::print("{}: {} (model file format {})\n", info["path"].get<std::string>(), info["kind"].get<std::string>(),
             info["format_version"].get<int>());
  fmt::print("compute type: {}\n", info["compute_type"].get<std::string>());
  fmt::print("parameters: {}\n", info["parameters"].get<int64_t>());
  fmt::print("config:\n");
  for (const auto& [key, value] : info["config"].items())
    fmt::print("  {:<28} {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
  if (info["tokenizer"].is_null()) {
    fmt::print("tokenizer: none embedded\n");
  } else {
    const auto& t = info["tokenizer"];
    const auto& ids = t["special_ids"];
    fmt::print("tokenizer: {}, vocabulary {}, special ids pad {} unk {} bos {} eos {} <sep> {}\n",
               t["kind"].get<std::string>(), t["vocab_size"].get<int64_t>(), ids["pad"].get<int64_t>(),
               ids["unk"].get<int64_t>(), ids["bos"].get<int64_t>(), ids["eos"].get<int64_t>(),
               ids["sep"].get<int64_t>());
    fmt::print("tokenizer checksum: {}\n", t["checksum"].get<std::string>());
  }
  if (info.contains("training_state")) {
    const auto& s = info["training_state"];
    fmt::print("training state: update {}, epoch {}, best {} (update {}), {:.0f} s trained\n", s.value("update", 0),
               s.value("epoch", 1),
               s.value("has_best", false) ? fmt::format("{:.4f}", s.value("best_metric", 0.0)) : "none",
               s.value("best_update", 0), s.value("training_seconds", 0.0));
    if (info.contains("state_file"))
      fmt::print("state file: {} ({})\n", info["state_file"]["path"].get<std::string>(),
                 info["state_file"]["exists"].get<bool>() ? "present: resumable" : "missing: not resumable");
  }
}

}  // namespace

PYRAMIDION_COMMAND("info", [](CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  auto* cmd = app.add_subcommand("info", "what a model file or training checkpoint holds");
  cmd->add_option("path", o->path, "model file or checkpoint (e.g. model.pt, run/checkpoint_last.pt)")->required();
  cmd->add_flag("--json", o->json, "machine-readable output");
  cmd->callback([o] {
    const auto info = describe_file(o->path);
    if (o->json)
      std::cout << info.dump(2) << "\n";
    else
      print_table(info);
  });
});

}  // namespace pyramidion::cli
