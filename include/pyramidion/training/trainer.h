#pragma once
// The training loop: token-budget batches, label-smoothed cross-entropy computed from encode() then decode()
// (so an auxiliary loss can look at the encoder output), gradient accumulation, AdamW with a warm-up schedule,
// gradient clipping, CUDA autocast, NaN/Inf skipping, periodic validation (loss + ROUGE) and checkpoints that
// resume bit-exactly (see training/checkpoint.h).
//
//   Trainer trainer(model_config, training_config, train, valid, tokenizer_bytes, {.save_dir = "runs/x"});
//   trainer.on_validation([](const ValidationResult& r) { ... });
//   TrainingSummary summary = trainer.run();
#include <torch/optim/adamw.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/eval/rouge.h"
#include "pyramidion/models/summarization_model.h"
#include "pyramidion/nn/encoder_output.h"
#include "pyramidion/training/batch.h"
#include "pyramidion/training/checkpoint.h"
#include "pyramidion/training/lr_scheduler.h"
#include "pyramidion/training/metrics_log.h"
#include "pyramidion/training/mixed_precision.h"
#include "pyramidion/training/token_budget_batcher.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion {
namespace data {
class SentencePieceTokenizer;
}

struct ValidationResult {
  int64_t update = 0;
  double loss = 0;        // label-smoothed loss per target token (nats)
  double nll_loss = 0;    // -log p per target token (nats)
  double perplexity = 0;  // exp(nll_loss)
  int64_t tokens = 0;     // target tokens the loss counted
  bool has_rouge = false;
  RougeScores rouge;      // mean over documents of precision, recall and F-measure
  int64_t rouge_documents = 0;
  double seconds = 0;

  double metric(ValidationMetric which) const;  // F-measure for rouge*
};

struct TrainingSummary {
  int64_t updates = 0;          // applied in this call
  int64_t update = 0;           // total after the call
  int64_t epoch = 1;
  double seconds = 0;
  double updates_per_second = 0;
  double tokens_per_second = 0;  // source + target tokens (unpadded)
  double mean_loss = 0;          // label-smoothed per target token over this call's updates (NaN when none)
  double last_loss = 0;          // of the last update
  // max_updates, max_epochs, max_minutes, run_for (the call's own limits), signal, requested, nonfinite
  std::string stop_reason;
  int signal = 0;                // SIGINT/SIGTERM when stop_reason == "signal"
};

struct TrainerOptions {
  std::string save_dir;       // checkpoints + metrics.jsonl; "" = write nothing unless asked
  bool progress = true;       // progress bar on a terminal, log lines otherwise
  bool log_lines = true;      // log lines (spdlog info) every log_interval updates
  int64_t rank = 0;           // data-parallel shard of the batches (multi-process training is not wired yet)
  int64_t world_size = 1;
};

class Trainer {
 public:
  // Per-token-scale extra loss (like the mean loss: it is weighted by the batch's share of the update's target
  // tokens). EncoderOutput.pooling holds the per-layer scorer outputs.
  using AuxiliaryLoss = std::function<torch::Tensor(const EncoderOutput&, const Batch&)>;
  using ValidationCallback = std::function<void(const ValidationResult&)>;

  // Moves `model` to config.device. tokenizer_bytes may be empty (then validation computes loss only).
  Trainer(SummarizationModel model, TrainingConfig config, std::shared_ptr<data::BinaryDataset> train,
          std::shared_ptr<data::BinaryDataset> valid, std::string tokenizer_bytes, TrainerOptions options = {});
  // Builds the model (seeded with config.seed first).
  Trainer(const ModelConfig& model_config, TrainingConfig config, std::shared_ptr<data::BinaryDataset> train,
          std::shared_ptr<data::BinaryDataset> valid, std::string tokenizer_bytes, TrainerOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Until max_updates / max_epochs / max_minutes (0 = that limit is off), a stop signal or request_stop().
  // Validates at validate_interval and at the end (validate_at_end); with a save_dir, saves checkpoint_last.pt
  // after each validation, at the end and when stopped, and checkpoint_best.pt on a new best metric.
  TrainingSummary run();
  // At most `updates` more updates and `max_seconds` seconds (<= 0: no time limit), within the config's limits;
  // validates at validate_interval, no end-of-run validation or checkpoint.
  TrainingSummary run_for(int64_t updates, double max_seconds);

  // Curriculum: trains on `dataset` from the next update on, in a fresh epoch; optimizer, schedule and
  // counters carry on. max_tokens > 0 also changes the token budget per batch (longer documents, fewer per batch).
  void set_train_dataset(std::shared_ptr<data::BinaryDataset> dataset, int64_t max_tokens = 0);
  void set_valid_dataset(std::shared_ptr<data::BinaryDataset> dataset);

  ValidationResult validate();  // updates the best metric and calls the callbacks; no checkpoint
  void save_checkpoint(const std::string& path);  // resumable (model file + state file)
  // Resumes from a checkpoint_last.pt-style file: weights, optimizer, RNG states, counters, data position.
  void load_checkpoint(const std::string& path);

  void on_validation(ValidationCallback callback);
  void set_auxiliary_loss(AuxiliaryLoss loss);  // empty function = off (the default)
  void request_stop();  // thread-safe: the current update finishes, then run()/run_for() return

  SummarizationModel model() const { return model_; }
  int64_t update() const { return state_.update; }
  int64_t epoch() const { return state_.epoch; }
  const TrainingState& state() const { return state_; }
  const TrainingConfig& config() const { return config_; }
  const torch::Device& device() const { return device_; }
  double learning_rate() const;  // the rate the next update will use
  std::vector<ExampleBatch> epoch_batches(int64_t epoch) const;  // this rank's batch order of `epoch`

 private:
  struct UpdateResult {
    bool applied = false;
    double loss_sum = 0, nll_sum = 0;  // summed over target tokens
    int64_t target_tokens = 0, source_tokens = 0;
    double grad_norm = 0;
    double lr = 0;
  };

  void initialize();
  std::optional<std::vector<ExampleBatch>> next_update_batches();  // nullopt: max_epochs reached
  UpdateResult train_step(const std::vector<ExampleBatch>& batches);
  TrainingSummary train_loop(int64_t max_updates_this_call, double max_seconds, bool end_of_run);
  void after_validation(const ValidationResult& result);
  void write_validation_checkpoints(const ValidationResult& result, bool improved);
  std::string save_path(const std::string& name) const;
  void write_metrics(const nlohmann::ordered_json& record);
  void log_interval_record(double lr, double interval_seconds);

  TrainingConfig config_;
  TrainerOptions options_;
  SummarizationModel model_;
  torch::Device device_;
  AmpMode amp_ = AmpMode::none;
  std::shared_ptr<data::BinaryDataset> train_, valid_;
  std::vector<int64_t> train_source_lengths_, train_target_lengths_;
  std::string tokenizer_bytes_;
  std::shared_ptr<data::SentencePieceTokenizer> tokenizer_;  // from tokenizer_bytes_, on first ROUGE validation
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  LrSchedule schedule_;
  DynamicLossScaler loss_scaler_;
  TrainingState state_;
  std::vector<ExampleBatch> epoch_order_;  // batch order of state_.epoch
  int64_t epoch_order_for_ = -1;
  std::vector<ValidationCallback> callbacks_;
  AuxiliaryLoss auxiliary_loss_;
  std::unique_ptr<MetricsLog> metrics_;  // opened on the first record
  int64_t metrics_keep_until_ = -1;      // -1: a fresh run truncates metrics.jsonl; else a resumed run's update
  int64_t last_saved_update_ = -1;       // checkpoint_last.pt holds this update
  std::atomic<bool> stop_requested_{false};
  bool last_validation_improved_ = false;
};

}  // namespace pyramidion
