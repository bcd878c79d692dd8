#pragma once
// What training reports: every log_interval updates a "train" record in save_dir/metrics.jsonl and a log line,
// after every validation a "valid" record and a log line (formats in docs/training.md). Only the writer
// process (rank 0) writes the file and the lines.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pyramidion/training/checkpoint.h"
#include "pyramidion/training/metrics_log.h"
#include "pyramidion/training/training_config.h"
#include "pyramidion/training/validator.h"

namespace pyramidion {

struct TrainingLogOptions {
  std::string save_dir;   // "" = no metrics.jsonl
  bool log_lines = true;  // spdlog info lines
  bool is_writer = true;
  int64_t max_updates = 0;  // for the ETA of the log line; 0 = none
  ValidationMetric best_metric = ValidationMetric::loss;
  int64_t world_size = 1;  // > 1: records and lines show it and the all-reduce share of step time

  // training.max_updates and best_checkpoint_metric.
  static TrainingLogOptions from_config(const TrainingConfig& config, std::string save_dir, bool log_lines,
                                        bool is_writer, int64_t world_size);
};

class TrainingLog {
 public:
  explicit TrainingLog(TrainingLogOptions options);
  ~TrainingLog();

  // A resumed run: metrics.jsonl keeps its records up to `update` (the checkpoint's) and drops later ones.
  // Without this call the first record starts a fresh file.
  void resume_at(int64_t update);

  // The interval record from state's interval_* sums (the caller resets them). loss_scale: fp16 only.
  // allreduce_share: several processes, the fraction of the interval's step time spent blocked in collectives.
  void interval(const TrainingState& state, double lr, double interval_seconds, std::optional<double> loss_scale,
                std::optional<double> allreduce_share = std::nullopt);
  // The validation record; `state` already holds the best metric after this validation.
  void validation(const ValidationResult& result, const TrainingState& state, bool improved);

  void write(const nlohmann::ordered_json& record);  // any other record

 private:
  TrainingLogOptions options_;
  std::unique_ptr<MetricsLog> metrics_;  // opened on the first record
  int64_t keep_until_ = -1;              // -1: a fresh run truncates metrics.jsonl; else a resumed run's update
};

}  // namespace pyramidion
