#include "pyramidion/training/training_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/models/config_document.h"
#include "pyramidion/models/presets.h"
#include "pyramidion/util/yaml_document.h"
#include "pyramidion/util/yaml_fields.h"
#include "pyramidion/util/yaml_override.h"

namespace pyramidion {
namespace {

using yaml_fields::describe_node;
using yaml_fields::fail;
using yaml_fields::read_scalar;
using Field = yaml_fields::Field<TrainingConfig>;

// Projections (TrainingConfig& -> member&) so nested members (valid_search.beam) share the helpers.
template <typename Project>
Field integer(Project project) {
  return yaml_fields::scalar<TrainingConfig, int64_t>(project, "an integer");
}
template <typename Project>
Field real(Project project) {
  return yaml_fields::scalar<TrainingConfig, double>(project, "a number");
}
template <typename Project>
Field boolean(Project project) {
  return yaml_fields::scalar<TrainingConfig, bool>(project, "true or false");
}
template <typename Project>
Field text(Project project) {
  return yaml_fields::scalar<TrainingConfig, std::string>(project, "a string");
}
template <typename E>
Field choice(E TrainingConfig::*m, std::vector<std::pair<std::string, E>> names) {
  return yaml_fields::choice<TrainingConfig, E>(yaml_fields::member(m), std::move(names));
}

Field betas() {
  return {[](TrainingConfig& c, const YAML::Node& n, const std::string& o, const std::string& f) {
            if (!n.IsSequence() || n.size() != 2) fail(o, f, "expected a list of two numbers, got " + describe_node(n));
            c.adam_betas = {read_scalar<double>(n[0], o, f, "a number"), read_scalar<double>(n[1], o, f, "a number")};
          },
          [](const TrainingConfig& c) {
            YAML::Node list(YAML::NodeType::Sequence);
            for (double b : c.adam_betas) list.push_back(yaml_fields::number_node(b));
            list.SetStyle(YAML::EmitterStyle::Flow);
            return list;
          }};
}

Field curriculum() {
  return {[](TrainingConfig& c, const YAML::Node& n, const std::string& o, const std::string& f) {
            c.curriculum = CurriculumConfig::from_yaml(n, o, f);
          },
          [](const TrainingConfig& c) { return c.curriculum.to_yaml(); }};
}

const std::vector<std::pair<std::string, LrSchedulerKind>> kSchedulers = {
    {"inverse_sqrt", LrSchedulerKind::inverse_sqrt},
    {"polynomial_decay", LrSchedulerKind::polynomial_decay},
    {"cosine", LrSchedulerKind::cosine},
    {"constant", LrSchedulerKind::constant}};
const std::vector<std::pair<std::string, AmpMode>> kAmpModes = {
    {"none", AmpMode::none}, {"bf16", AmpMode::bf16}, {"fp16", AmpMode::fp16}};
const std::vector<std::pair<std::string, ValidationMetric>> kMetrics = {{"loss", ValidationMetric::loss},
                                                                        {"rouge1", ValidationMetric::rouge1},
                                                                        {"rouge2", ValidationMetric::rouge2},
                                                                        {"rougeL", ValidationMetric::rougeL},
                                                                        {"rougeLsum", ValidationMetric::rougeLsum}};

template <typename E>
std::string name_in(const std::vector<std::pair<std::string, E>>& names, E value) {
  for (const auto& [name, e] : names)
    if (e == value) return name;
  return "?";
}

// The validation summaries' decoding keys, `valid_<name>`, one per generation option the table marks for
// validation (decoding/generation_options.h), inserted after valid_max_tokens: the same names, types and ranges as
// the command line's and the HTTP API's.
Field validation_decoding(const GenerationOptionField& option) {
  return {[&option](TrainingConfig& c, const YAML::Node& n, const std::string& o, const std::string& f) {
            GenerationOptions generation;
            generation.search = c.valid_search;
            switch (option.type) {
              case GenerationOptionType::integer:
                option.integer(generation) = read_scalar<int64_t>(n, o, f, "an integer");
                break;
              case GenerationOptionType::number:
                option.number(generation) = read_scalar<double>(n, o, f, "a number");
                break;
              case GenerationOptionType::boolean:
                option.boolean(generation) = read_scalar<bool>(n, o, f, "true or false");
                break;
            }
            c.valid_search = generation.search;
          },
          [&option](const TrainingConfig& c) {
            GenerationOptions generation;
            generation.search = c.valid_search;
            switch (option.type) {
              case GenerationOptionType::integer:
                return yaml_fields::value_node(option.integer(generation));
              case GenerationOptionType::number:
                return yaml_fields::value_node(option.number(generation));
              case GenerationOptionType::boolean:
                break;
            }
            return yaml_fields::value_node(option.boolean(generation));
          }};
}

std::vector<std::pair<std::string, Field>> with_validation_decoding(std::vector<std::pair<std::string, Field>> table) {
  auto at = std::find_if(table.begin(), table.end(), [](const auto& f) { return f.first == "valid_max_tokens"; });
  std::vector<std::pair<std::string, Field>> decoding;
  for (const auto& option : generation_option_fields())
    if (option.uses & kValidation)
      decoding.emplace_back(std::string("valid_") + option.name, validation_decoding(option));
  table.insert(at + 1, decoding.begin(), decoding.end());
  return table;
}

// Key order = order in to_yaml() and in docs/training.md.
const std::vector<std::pair<std::string, Field>>& fields() {
  using C = TrainingConfig;
#define PYR_MEMBER(m) \
  [](C & c) -> auto& { return c.m; }
  static const std::vector<std::pair<std::string, Field>> table = with_validation_decoding({
      {"max_tokens", integer(PYR_MEMBER(max_tokens))},
      {"update_freq", integer(PYR_MEMBER(update_freq))},
      {"sort_window", integer(PYR_MEMBER(sort_window))},
      {"seed", integer(PYR_MEMBER(seed))},
      {"lr", real(PYR_MEMBER(lr))},
      {"lr_scheduler", choice(&C::lr_scheduler, kSchedulers)},
      {"warmup_updates", integer(PYR_MEMBER(warmup_updates))},
      {"warmup_init_lr", real(PYR_MEMBER(warmup_init_lr))},
      {"end_learning_rate", real(PYR_MEMBER(end_learning_rate))},
      {"total_updates", integer(PYR_MEMBER(total_updates))},
      {"power", real(PYR_MEMBER(power))},
      {"adam_betas", betas()},
      {"adam_eps", real(PYR_MEMBER(adam_eps))},
      {"weight_decay", real(PYR_MEMBER(weight_decay))},
      {"clip_norm", real(PYR_MEMBER(clip_norm))},
      {"label_smoothing", real(PYR_MEMBER(label_smoothing))},
      {"pooling_sharpening", real(PYR_MEMBER(pooling_sharpening))},
      {"max_updates", integer(PYR_MEMBER(max_updates))},
      {"max_epochs", integer(PYR_MEMBER(max_epochs))},
      {"max_minutes", real(PYR_MEMBER(max_minutes))},
      {"max_nonfinite_updates", integer(PYR_MEMBER(max_nonfinite_updates))},
      {"log_interval", integer(PYR_MEMBER(log_interval))},
      {"validate_interval", integer(PYR_MEMBER(validate_interval))},
      {"validate_at_end", boolean(PYR_MEMBER(validate_at_end))},
      {"valid_subset_size", integer(PYR_MEMBER(valid_subset_size))},
      {"valid_max_tokens", integer(PYR_MEMBER(valid_max_tokens))},
      {"best_checkpoint_metric", choice(&C::best_checkpoint_metric, kMetrics)},
      {"save_interval_updates", integer(PYR_MEMBER(save_interval_updates))},
      {"keep_last", integer(PYR_MEMBER(keep_last))},
      {"keep_best_checkpoints", integer(PYR_MEMBER(keep_best_checkpoints))},
      {"patience", integer(PYR_MEMBER(patience))},
      {"curriculum", curriculum()},
      {"amp", choice(&C::amp, kAmpModes)},
      {"device", text(PYR_MEMBER(device))},
      {"threads", integer(PYR_MEMBER(threads))},
  });
#undef PYR_MEMBER
  return table;
}

bool is_model_key(const std::string& key) {
  const auto keys = ModelConfig::keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}
bool is_training_key(const std::string& key) {
  const auto keys = TrainingConfig::keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// The keys that decide a model's size; a file that leaves one out without naming a preset gets a warning.
const std::vector<std::string> kArchitectureKeys = {"d_model",
                                                    "attention_heads",
                                                    "ffn_dim",
                                                    "encoder_layers",
                                                    "decoder_layers",
                                                    "max_source_positions",
                                                    "max_target_positions",
                                                    "chunk_size",
                                                    "pooling"};

// `model: {preset: NAME, k: v, ...}`: the preset's model section with the file's keys on top (pooling merged key
// by key, its schedule replaced whole). Without a preset, architecture keys the file leaves out take the built-in
// defaults (docs/model.md), and a warning names them.
void merge_model_preset(YAML::Node& document, const std::string& origin) {
  YAML::Node model = document["model"];
  if (!model || !model.IsMap()) return;
  if (!model["preset"]) {
    std::string missing;
    for (const auto& key : kArchitectureKeys)
      if (!model[key]) missing += (missing.empty() ? "" : ", ") + key;
    if (!missing.empty())
      spdlog::warn(
          "{}: model: {} not set, so the built-in defaults apply (docs/model.md: 6+6 layers, d_model 512); "
          "add `preset: NAME` to the model: section to start from a preset instead",
          origin, missing);
    return;
  }
  const YAML::Node name_node = model["preset"];
  if (!name_node.IsScalar()) fail(origin, "model.preset", "expected a preset name, got " + describe_node(name_node));
  const std::string name = name_node.Scalar();
  YAML::Node preset_document;
  try {
    preset_document = YAML::Clone(load_preset_yaml(name));
  } catch (const std::exception& e) {
    fail(origin, "model.preset", e.what());
  }
  normalize_pooling_section(preset_document);
  YAML::Node merged = preset_document["model"];
  if (!merged || !merged.IsMap()) fail(origin, "model.preset", "preset '" + name + "' has no model: section");
  int overridden = 0;
  for (const auto& item : model) {
    const std::string key = item.first.as<std::string>();
    if (key == "preset") continue;
    ++overridden;
    if (key == "pooling" && item.second.IsMap() && merged["pooling"] && merged["pooling"].IsMap()) {
      for (const auto& sub : item.second) merged["pooling"][sub.first.as<std::string>()] = sub.second;
      continue;
    }
    merged[key] = item.second;
  }
  document["model"] = merged;
  spdlog::info("{}: model: preset {} with {} key{} of the file on top", origin, name, overridden,
               overridden == 1 ? "" : "s");
}

}  // namespace

std::string name_of(LrSchedulerKind kind) { return name_in(kSchedulers, kind); }
std::string name_of(AmpMode mode) { return name_in(kAmpModes, mode); }
std::string name_of(ValidationMetric metric) { return name_in(kMetrics, metric); }

BeamSearchOptions TrainingConfig::default_valid_search() {
  BeamSearchOptions search;
  search.beam = 4;
  search.lenpen = 1.0;
  search.min_len = 1;
  search.max_len_a = 0.0;
  search.max_len_b = 200;
  search.no_repeat_ngram_size = 0;
  return search;
}

TrainingConfig TrainingConfig::from_yaml(const YAML::Node& document, const std::string& origin) {
  TrainingConfig config;
  if (!document.IsMap() && !document.IsNull()) fail(origin, "", "expected a YAML map");
  const YAML::Node section = document.IsMap() ? document["training"] : YAML::Node();
  if (section && !section.IsNull()) {
    if (!section.IsMap()) fail(origin, "training", "expected a map, got " + describe_node(section));
    for (const auto& item : section) {
      const std::string key = item.first.as<std::string>();
      const std::string field = "training." + key;
      auto it = std::find_if(fields().begin(), fields().end(), [&](const auto& f) { return f.first == key; });
      if (it == fields().end()) fail(origin, field, "unknown key (see docs/training.md for the training keys)");
      it->second.read(config, item.second, origin, field);
    }
  }
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    fail(origin, "", e.what());
  }
  return config;
}

std::vector<std::string> TrainingConfig::keys() {
  std::vector<std::string> names;
  for (const auto& [name, f] : fields()) names.push_back(name);
  return names;
}

YAML::Node TrainingConfig::to_yaml() const {
  YAML::Node training(YAML::NodeType::Map);
  for (const auto& [name, f] : fields()) training[name] = f.write(*this);
  YAML::Node document(YAML::NodeType::Map);
  document["training"] = training;
  return document;
}

void TrainingConfig::validate() const {
  auto require = [](bool ok, const std::string& field, const std::string& message) {
    if (!ok) throw std::invalid_argument("training." + field + ": " + message);
  };
  require(max_tokens >= 1, "max_tokens", "must be >= 1");
  // Upper bounds: beyond them a value exhausts memory or threads before it could be useful.
  require(update_freq >= 1 && update_freq <= 65536, "update_freq",
          "must be in [1, 65536] (got " + std::to_string(update_freq) + ")");
  require(sort_window >= 1, "sort_window", "must be >= 1");
  // NaN fails every comparison below; inf passes them, so finiteness is checked first.
  const std::vector<std::pair<const char*, double>> reals = {{"lr", lr},
                                                             {"warmup_init_lr", warmup_init_lr},
                                                             {"end_learning_rate", end_learning_rate},
                                                             {"power", power},
                                                             {"adam_eps", adam_eps},
                                                             {"weight_decay", weight_decay},
                                                             {"clip_norm", clip_norm},
                                                             {"label_smoothing", label_smoothing},
                                                             {"pooling_sharpening", pooling_sharpening},
                                                             {"max_minutes", max_minutes}};
  for (const auto& [name, value] : reals) require(std::isfinite(value), name, "must be a finite number");
  for (double b : adam_betas) require(std::isfinite(b), "adam_betas", "each must be a finite number");
  require(lr > 0, "lr", "must be > 0");
  require(warmup_updates >= 0, "warmup_updates", "must be >= 0");
  require(warmup_init_lr >= 0, "warmup_init_lr", "must be >= 0");
  require(end_learning_rate >= 0, "end_learning_rate", "must be >= 0");
  require((lr_scheduler != LrSchedulerKind::polynomial_decay && lr_scheduler != LrSchedulerKind::cosine) ||
              total_updates > warmup_updates,
          "total_updates", "must be > warmup_updates for " + name_of(lr_scheduler));
  require(lr_scheduler != LrSchedulerKind::cosine || end_learning_rate <= lr, "end_learning_rate",
          "must be <= lr for cosine");
  require(power > 0, "power", "must be > 0");
  for (double b : adam_betas) require(b >= 0 && b < 1, "adam_betas", "each must be in [0, 1)");
  require(adam_eps > 0, "adam_eps", "must be > 0");
  require(weight_decay >= 0, "weight_decay", "must be >= 0");
  require(clip_norm >= 0, "clip_norm", "must be >= 0 (0 = no clipping)");
  require(pooling_sharpening >= 0, "pooling_sharpening", "must be >= 0 (0 = off)");
  require(label_smoothing >= 0 && label_smoothing < 1, "label_smoothing", "must be in [0, 1)");
  require(max_updates >= 0, "max_updates", "must be >= 0 (0 = no limit)");
  require(max_epochs >= 0, "max_epochs", "must be >= 0 (0 = no limit)");
  require(max_minutes >= 0, "max_minutes", "must be >= 0 (0 = no limit)");
  require(max_nonfinite_updates >= 1, "max_nonfinite_updates", "must be >= 1");
  require(log_interval >= 1, "log_interval", "must be >= 1");
  require(validate_interval >= 0, "validate_interval", "must be >= 0 (0 = only at the end)");
  require(valid_subset_size >= 0, "valid_subset_size", "must be >= 0");
  require(valid_max_tokens >= 0, "valid_max_tokens", "must be >= 0 (0 = max_tokens)");
  // Every validation decoding option passes the check the CLI and the server apply (decoding/summarizer.h) here,
  // at start-up, not at the first validation hundreds of updates later.
  GenerationOptions valid_generation;
  valid_generation.search = valid_search;
  try {
    pyramidion::validate(valid_generation);
  } catch (const InvalidGenerationOption& e) {
    throw std::invalid_argument("training.valid_" + e.field + ": " + e.reason);
  }
  require(save_interval_updates >= 0, "save_interval_updates", "must be >= 0 (0 = off)");
  require(keep_last >= 0, "keep_last", "must be >= 0");
  require(keep_best_checkpoints >= 0 && keep_best_checkpoints <= 1000, "keep_best_checkpoints", "must be in 0..1000");
  require(patience >= 0, "patience", "must be >= 0 (0 = no early stopping)");
  require(threads >= 0 && threads <= 1024, "threads", "must be in [0, 1024] (got " + std::to_string(threads) + ")");
  curriculum.validate();  // its messages name training.curriculum.*
  const bool device_ok = device == "auto" || device == "cpu" || device == "cuda" || device.rfind("cuda:", 0) == 0;
  require(device_ok, "device", "'" + device + "' is not one of auto, cpu, cuda, cuda:N");
}

YAML::Node RunConfig::to_yaml() const {
  YAML::Node document = model.to_yaml();
  document["training"] = training.to_yaml()["training"];
  return document;
}

std::string RunConfig::to_yaml_string() const {
  YAML::Emitter out;
  out << to_yaml();
  return std::string(out.c_str()) + "\n";
}

void check_config_source(const std::string& config_path, const std::string& preset) {
  if (config_path.empty() == preset.empty())
    throw std::invalid_argument("give either a config file (-c) or a preset (--preset)");
}

RunConfig resolve_run_config(const std::string& config_path, const std::string& preset,
                             const std::vector<std::string>& overrides, int64_t vocab_size) {
  check_config_source(config_path, preset);
  YAML::Node document;
  RunConfig run;
  if (!preset.empty()) {
    document = load_preset_yaml(preset);
    run.origin = preset_path(preset);
  } else {
    run.origin = config_path;
    if (!std::filesystem::exists(config_path)) throw std::invalid_argument(config_path + ": no such file");
    document = load_yaml_file(config_path);  // one document, no key twice
  }
  if (!document.IsMap())
    throw std::invalid_argument(run.origin + ": expected a YAML map with 'model:' and 'training:' sections");
  for (const auto& section : document) {  // a misspelt section (`trainig:`) would otherwise be ignored
    const std::string key = section.first.Scalar();
    if (key != "model" && key != "training")
      throw std::invalid_argument(run.origin + ": unknown top-level section '" + key + "' (line " +
                                  std::to_string(section.first.Mark().line + 1) + "; known: model, training)");
  }
  normalize_pooling_section(document);  // overrides then act on the nested form, old files included
  if (preset.empty()) merge_model_preset(document, run.origin);
  for (const auto& assignment : overrides) {
    const auto split = assignment.find_first_of(".=");
    const std::string first = assignment.substr(0, split);
    std::string scoped;
    if (is_model_key(first))
      scoped = "model." + assignment;
    else if (split != std::string::npos && assignment[split] == '.')
      scoped = assignment;
    else if (is_training_key(first))
      scoped = "training." + assignment;
    else
      throw std::invalid_argument("--set " + assignment + ": '" + first + "' is neither a model nor a training key");
    try {
      apply_yaml_override(document, canonical_model_override(scoped));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("--set " + assignment + ": " + e.what());
    }
    run.origin += " --set " + assignment;
  }
  if (vocab_size > 0) document["model"]["vocab_size"] = vocab_size;
  run.model = ModelConfig::from_yaml(document, run.origin);
  run.training = TrainingConfig::from_yaml(document, run.origin);
  return run;
}

}  // namespace pyramidion
