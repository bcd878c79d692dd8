#pragma once
// Every trainer setting; read from the `training:` section of the same YAML file whose `model:` section is the
// ModelConfig. Defaults follow the paper's fairseq recipe where it has one (docs/training.md lists them all).
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pyramidion/decoding/beam_search.h"
#include "pyramidion/models/model_config.h"
#include "pyramidion/training/curriculum.h"

namespace pyramidion {

enum class LrSchedulerKind { inverse_sqrt, polynomial_decay, cosine, constant };
enum class AmpMode { none, bf16, fp16 };
enum class ValidationMetric { loss, rouge1, rouge2, rougeL, rougeLsum };

struct TrainingConfig {
  // Batching.
  int64_t max_tokens = 16384;   // source + target tokens per batch, padding included
  int64_t update_freq = 1;      // batches accumulated into one update
  int64_t sort_window = 16384;  // examples shuffled together, then sorted by length before packing
  int64_t seed = 1;

  // Optimizer (AdamW) and schedule.
  double lr = 5e-4;
  LrSchedulerKind lr_scheduler = LrSchedulerKind::inverse_sqrt;
  int64_t warmup_updates = 5000;
  double warmup_init_lr = 0.0;
  double end_learning_rate = 0.0;  // polynomial_decay, cosine: the final rate
  int64_t total_updates = 100000;  // polynomial_decay, cosine: the update at which end_learning_rate is reached
  double power = 1.0;              // polynomial_decay
  std::vector<double> adam_betas = {0.9, 0.98};
  double adam_eps = 1e-8;
  double weight_decay = 0.01;
  double clip_norm = 0.1;  // max global gradient norm; 0 = no clipping
  double label_smoothing = 0.1;
  // Weight of the pooled slots' provenance entropy (nats per slot, nn/copy_attention.h) added to the loss per target
  // token: it pushes each pooled slot towards one source token, so the copy it offers is a word rather than a blur
  // of 16. Needs model.copy_attention; without pooling the entropy is 0. 0 = off.
  double pooling_sharpening = 0.0;

  // Stopping.
  int64_t max_updates = 0;             // 0 = no limit
  int64_t max_epochs = 0;              // 0 = no limit
  double max_minutes = 0;              // wall-clock budget of one run; 0 = none
  int64_t max_nonfinite_updates = 10;  // consecutive NaN/Inf updates (skipped) before training stops with an error

  // Logging, validation, checkpoints.
  int64_t log_interval = 100;        // updates per log line / metrics record
  int64_t validate_interval = 1000;  // updates; 0 = only at the end
  bool validate_at_end = true;
  int64_t valid_subset_size = 100;  // validation documents summarized for ROUGE; 0 = loss only
  int64_t valid_max_tokens = 0;     // token budget of validation loss batches; 0 = max_tokens
  BeamSearchOptions valid_search = default_valid_search();
  ValidationMetric best_checkpoint_metric = ValidationMetric::loss;  // rouge*: higher is better
  int64_t save_interval_updates = 0;  // > 0: also keep checkpoint_<update>.pt every this many updates
  int64_t keep_last = 2;              // checkpoint_<update>.pt files kept (oldest removed)
  int64_t keep_best_checkpoints = 0;  // > 0: also keep checkpoint_best_u<update>.pt of the N best validations
  int64_t patience = 0;               // > 0: stop after this many validations in a row without a new best

  // Length curriculum (training/curriculum.h); no stages = off.
  CurriculumConfig curriculum;

  // Execution.
  AmpMode amp = AmpMode::none;  // CUDA only (warned about and disabled on the CPU)
  std::string device = "auto";  // auto, cpu, cuda, cuda:N
  int64_t threads = 0;  // intra-op threads, set by the training job (start_training); 0 = keep the process setting

  // Parses the `training:` section (missing = all defaults); other sections are ignored. Unknown keys, wrong
  // types and invalid values throw std::invalid_argument naming `origin` and the key ("x.yaml: training.lr: ...").
  static TrainingConfig from_yaml(const YAML::Node& document, const std::string& origin);
  static std::vector<std::string> keys();  // in documentation order

  YAML::Node to_yaml() const;  // {training: {...}}, every key
  void validate() const;       // throws std::invalid_argument naming the key

  bool metric_maximized() const { return best_checkpoint_metric != ValidationMetric::loss; }
  static BeamSearchOptions default_valid_search();  // beam 4, lenpen 1, min_len 1, max_len_b 200
};

std::string name_of(LrSchedulerKind kind);
std::string name_of(AmpMode mode);
std::string name_of(ValidationMetric metric);

// The model and training settings of one run: a config file or a preset, `--set` overrides in order, and the
// tokenizer's vocabulary size. An override "a.b=v" with a known model key first ("d_model=64", "pooling.0=128")
// is a model key; otherwise a key with a section names it ("training.lr=1e-3", "model.d_model=64"); a bare
// training key ("lr=1e-3") is a training key. Errors (std::invalid_argument) name the file or the override.
struct RunConfig {
  ModelConfig model;
  TrainingConfig training;
  std::string origin;  // the file or preset, then the overrides

  YAML::Node to_yaml() const;  // {model: ..., training: ...}
  std::string to_yaml_string() const;
};

// A run's config comes from exactly one of a file and a preset: throws std::invalid_argument
// "give either a config file (-c) or a preset (--preset)" otherwise (resolve_run_config, run_training and the
// `train` launcher check it before any worker starts).
void check_config_source(const std::string& config_path, const std::string& preset);

// The one config loader of every command (describe, bench, train, demo): the same keys, the same errors. Commands
// that need only the model (describe, bench) still validate the training section. vocab_size <= 0 keeps the
// file's model.vocab_size. Legacy pooling overrides ("pooling.0=128", "pooling={0: 256}", "pooling_sort_back=false")
// are accepted (canonical_model_override).
RunConfig resolve_run_config(const std::string& config_path, const std::string& preset,
                             const std::vector<std::string>& overrides, int64_t vocab_size);

}  // namespace pyramidion
