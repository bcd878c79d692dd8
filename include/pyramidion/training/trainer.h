#pragma once
// The training loop, and only the loop: before each update the stop rule (training/scheduler.h), then the batches
// of the update (training/batch_plan.h: epoch order, curriculum stage, this rank's shard, the data position), the
// update itself (training/update_step.h: loss, backward, gradient reduction, clipping, AdamW, AMP, NaN/Inf
// skipping) at the warm-up schedule's rate, periodic validation (training/validator.h: loss + ROUGE), checkpoints
// (training/checkpoint_policy.h decides and writes them, resuming bit-exactly) and the log (training/training_log.h).
// A run with its data checks starts from training/training_run.h (run_training, or start_training for a program
// that drives run_for() itself). src/training/trainer.cpp is the loop; trainer_checkpoints.cpp the glue around
// validations, checkpoints, resume and init-from.
//
//   Trainer trainer(model_config, training_config, train, valid, tokenizer_bytes, {.save_dir = "runs/x"});
//   trainer.on_validation([](const ValidationResult& r) { ... });
//   TrainingSummary summary = trainer.run();
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/models/summarization_model.h"
#include "pyramidion/nn/encoder_output.h"
#include "pyramidion/training/batch.h"
#include "pyramidion/training/batch_plan.h"
#include "pyramidion/training/checkpoint.h"
#include "pyramidion/training/checkpoint_policy.h"
#include "pyramidion/training/curriculum.h"
#include "pyramidion/training/gradient_reducer.h"
#include "pyramidion/training/lr_scheduler.h"
#include "pyramidion/training/scheduler.h"
#include "pyramidion/training/token_budget_batcher.h"
#include "pyramidion/training/training_config.h"
#include "pyramidion/training/training_log.h"
#include "pyramidion/training/update_step.h"
#include "pyramidion/training/validator.h"

namespace pyramidion {

struct TrainingSummary {
  int64_t updates = 0;  // applied in this call
  int64_t update = 0;   // total after the call
  int64_t epoch = 1;
  double seconds = 0;
  double updates_per_second = 0;
  double tokens_per_second = 0;          // source + target tokens (unpadded)
  double mean_loss = 0;                  // label-smoothed per target token over this call's updates (NaN when none)
  double last_loss = 0;                  // of the last update
  StopReason reason = StopReason::none;  // why the call ended (training/scheduler.h)
  std::string stop_reason;               // its name: name_of(reason) ("max_updates", "signal", ...)
  int signal = 0;                        // SIGINT/SIGTERM when reason == StopReason::signal
  std::string divergence;                // stop_reason "nonfinite" after an applied update: what was not finite
};

struct TrainerOptions {
  std::string save_dir;   // checkpoints + metrics.jsonl; "" = write nothing unless asked
  bool progress = true;   // progress bar on a terminal, log lines otherwise
  bool log_lines = true;  // log lines (spdlog info) every log_interval updates
  // Data-parallel shard (training/distributed_context.h): rank r of world_size takes batches r, r + N, ... of each
  // epoch's order (equal counts per rank), validates a shard of the validation set.
  int64_t rank = 0;
  int64_t world_size = 1;
  // Sums gradients and agreement scalars over the processes; nullptr = one process (LocalGradientReducer).
  // Its rank and world size must equal the two above. Only rank 0 writes checkpoints, metrics and log lines.
  std::shared_ptr<GradientReducer> reducer;
};

class Trainer {
 public:
  // Per-token-scale extra loss (like the mean loss: it is weighted by the batch's share of the update's target
  // tokens). EncoderOutput.pooling holds the per-layer scorer outputs.
  using AuxiliaryLoss = UpdateStep::AuxiliaryLoss;
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
  const std::shared_ptr<data::BinaryDataset>& train_dataset() const { return plan_->train_dataset(); }
  // Length curriculum (training.curriculum, training/curriculum.h): the trainer changes stages itself at their
  // `until`; with unit manual a driver does it here, on its own criteria. From the next update on, in a fresh
  // epoch; the state (and so the next checkpoint) records the stage.
  void set_curriculum_stage(int64_t stage);
  int64_t curriculum_stage() const { return state_.curriculum_stage; }
  const Curriculum& curriculum() const { return plan_->curriculum(); }

  // What run() does when it ends, for loops that drive run_for() themselves (training/curriculum.h): after
  // `stop_reason` "nonfinite" nothing; else validates (validate_at_end, not after "signal", not twice for one
  // update) and saves checkpoint_last.pt unless it already holds this update.
  void finish(const std::string& stop_reason);

  ValidationResult validate();                    // updates the best metric and calls the callbacks; no checkpoint
  void save_checkpoint(const std::string& path);  // resumable (model file + state file)
  // Resumes from a checkpoint_last.pt-style file: weights, optimizer, RNG states, counters, data position.
  void load_checkpoint(const std::string& path);
  // Starts a new run from another run's weights: a model file (`pyramidion export`, checkpoint_best.pt, an
  // average) or a resumable checkpoint. The weights must fit this run's architecture (names and shapes) and the
  // tokenizer must be the same bytes. A resumable checkpoint also gives its optimizer state and, with it, its
  // update count (so the schedule continues) unless reset; data position, best metric and counters start afresh.
  void init_from(const std::string& path, InitFromOptions options = {});

  void on_validation(ValidationCallback callback);
  void set_auxiliary_loss(AuxiliaryLoss loss);  // empty function = off (the default)
  void request_stop();                          // thread-safe: the current update finishes, then run()/run_for() return

  SummarizationModel model() const { return model_; }
  int64_t update() const { return state_.update; }
  int64_t epoch() const { return state_.epoch; }
  const TrainingState& state() const { return state_; }
  const TrainingConfig& config() const { return config_; }
  const torch::Device& device() const { return device_; }
  double learning_rate() const;                                  // the rate the next update will use
  std::vector<ExampleBatch> epoch_batches(int64_t epoch) const;  // this rank's batch order of `epoch`

 private:
  void initialize(std::shared_ptr<data::BinaryDataset> train);
  TrainingSummary train_loop(int64_t max_updates_this_call, double max_seconds, bool end_of_run);
  void account(const UpdateStepResult& step);  // the applied update into the state's counters and interval
  void after_validation(const ValidationResult& result);
  bool parameters_finite() const;
  bool validation_finite(const ValidationResult& result);  // false: sets diverged_
  // Unless diverged (or the weights are not finite: then diverged_), checkpoints_ writes them.
  void write_checkpoints(const CheckpointWrites& writes, const ValidationResult* validation);

  TrainingConfig config_;
  TrainerOptions options_;
  SummarizationModel model_;
  torch::Device device_;
  AmpMode amp_ = AmpMode::none;
  std::shared_ptr<data::BinaryDataset> valid_;
  std::string tokenizer_bytes_;
  LrSchedule schedule_;
  TrainingState state_;
  std::unique_ptr<BatchPlan> plan_;  // moves state_'s data position
  std::vector<ValidationCallback> callbacks_;
  std::unique_ptr<UpdateStep> update_step_;
  std::unique_ptr<Validator> validator_;
  std::unique_ptr<CheckpointPolicy> checkpoints_;
  std::unique_ptr<TrainingLog> log_;
  std::atomic<bool> stop_requested_{false};
  bool last_validation_improved_ = false;
  double last_validation_metric_ = 0.0;
  // Set when an applied update left non-finite weights or a non-finite validation loss: no checkpoint is written
  // from then on (checkpoint_last.pt keeps the last good update) and training stops with "nonfinite".
  std::string diverged_;
};

}  // namespace pyramidion
