// The training loop (training/trainer.h); its validations and checkpoints are trainer_checkpoints.cpp.
#include "pyramidion/training/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>

#include "pyramidion/training/rank_agreement.h"
#include "pyramidion/training/stop_signal.h"
#include "pyramidion/util/device.h"
#include "pyramidion/util/progress.h"

namespace pyramidion {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

torch::Device resolve_device(const std::string& name) {
  try {
    return parse_device(name);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("training.device: ") + e.what());
  }
}

SummarizationModel seeded_model(const ModelConfig& config, int64_t seed) {
  torch::manual_seed(static_cast<uint64_t>(seed));  // reproducible initial weights
  return SummarizationModel(config);
}

}  // namespace

Trainer::Trainer(SummarizationModel model, TrainingConfig config, std::shared_ptr<data::BinaryDataset> train,
                 std::shared_ptr<data::BinaryDataset> valid, std::string tokenizer_bytes, TrainerOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      model_(std::move(model)),
      device_(resolve_device(config_.device)),
      valid_(std::move(valid)),
      tokenizer_bytes_(std::move(tokenizer_bytes)) {
  initialize(std::move(train));
}

Trainer::Trainer(const ModelConfig& model_config, TrainingConfig config, std::shared_ptr<data::BinaryDataset> train,
                 std::shared_ptr<data::BinaryDataset> valid, std::string tokenizer_bytes, TrainerOptions options)
    : Trainer(seeded_model(model_config, config.seed), std::move(config), std::move(train), std::move(valid),
              std::move(tokenizer_bytes), std::move(options)) {}

Trainer::~Trainer() = default;

void Trainer::initialize(std::shared_ptr<data::BinaryDataset> train) {
  config_.validate();
  if (!train || train->size() == 0) throw std::invalid_argument("the training set is empty");
  const auto& mc = model_->config();
  if (train->vocab_size() > mc.vocab_size)
    throw std::invalid_argument(train->path() + ": token ids up to " + std::to_string(train->vocab_size()) +
                                " but the model's vocab_size is " + std::to_string(mc.vocab_size));
  if (config_.metric_maximized() && (tokenizer_bytes_.empty() || config_.valid_subset_size == 0 || !valid_))
    throw std::invalid_argument("training.best_checkpoint_metric: " + name_of(config_.best_checkpoint_metric) +
                                " needs ROUGE validation (a tokenizer, a validation set and valid_subset_size > 0)");
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size)
    throw std::invalid_argument("trainer: rank must be in 0..world_size-1");
  if (!options_.reducer) options_.reducer = std::make_shared<LocalGradientReducer>();
  if (options_.reducer->rank() != options_.rank || options_.reducer->world_size() != options_.world_size)
    throw std::invalid_argument("trainer: the gradient reducer's rank and world size differ from the options'");
  amp_ = config_.amp;
  if (amp_ != AmpMode::none && !device_.is_cuda()) {
    spdlog::warn("training.amp: {} needs CUDA; training on the CPU in float32", name_of(amp_));
    amp_ = AmpMode::none;
  }
  // Before the first collective that depends on them (attach() broadcasts the weights).
  check_ranks_agree(*options_.reducer, training_fingerprints(model_, config_, tokenizer_bytes_, *train, valid_.get()));
  torch::manual_seed(static_cast<uint64_t>(config_.seed));  // dropout stream
  model_->to(device_);
  model_->train();
  update_step_ = std::make_unique<UpdateStep>(model_, config_, amp_, device_, options_.reducer);
  validator_ =
      std::make_unique<Validator>(model_, device_, tokenizer_bytes_, ValidatorOptions::from_config(config_, amp_));
  validator_->set_reducer(options_.reducer);  // several processes: each validates a shard, the sums are reduced
  const bool is_writer = options_.reducer->is_writer();
  checkpoints_ =
      std::make_unique<CheckpointPolicy>(CheckpointPolicyOptions::from_config(config_, options_.save_dir, is_writer));
  for (const auto& evicted : checkpoints_->finish_interrupted_evictions())
    spdlog::warn("{}: finished removing it (its eviction was interrupted; it was no longer among the keep_last {})",
                 evicted, config_.keep_last);
  log_ = std::make_unique<TrainingLog>(
      TrainingLogOptions::from_config(config_, options_.save_dir, options_.log_lines, is_writer, options_.world_size));
  schedule_ = LrSchedule::from_config(config_);
  BatchPlanOptions plan_options = BatchPlanOptions::from_config(config_, options_.rank, options_.world_size);
  plan_options.log_stages = options_.log_lines && is_writer;
  plan_ = std::make_unique<BatchPlan>(plan_options, mc, std::move(train), state_);
  state_.loss_scale = update_step_->loss_scaler().scale();
  if (!options_.save_dir.empty() && is_writer) fs::create_directories(options_.save_dir);
}

std::vector<ExampleBatch> Trainer::epoch_batches(int64_t epoch) const { return plan_->epoch_batches(epoch); }
void Trainer::set_curriculum_stage(int64_t stage) { plan_->set_stage(stage); }
double Trainer::learning_rate() const { return schedule_.rate(state_.update + 1); }
void Trainer::on_validation(ValidationCallback callback) { callbacks_.push_back(std::move(callback)); }
void Trainer::set_auxiliary_loss(AuxiliaryLoss loss) { update_step_->set_auxiliary_loss(std::move(loss)); }
void Trainer::request_stop() { stop_requested_.store(true); }
void Trainer::set_valid_dataset(std::shared_ptr<data::BinaryDataset> dataset) { valid_ = std::move(dataset); }

void Trainer::set_train_dataset(std::shared_ptr<data::BinaryDataset> dataset, int64_t max_tokens) {
  plan_->set_train_dataset(std::move(dataset), max_tokens);
  if (max_tokens > 0) {
    config_.max_tokens = max_tokens;
    if (config_.valid_max_tokens == 0) validator_->options().max_tokens = max_tokens;  // valid_max_tokens 0 follows
  }
}

void Trainer::account(const UpdateStepResult& step) {
  ++state_.update;
  state_.nonfinite_in_a_row = 0;
  state_.interval_updates += 1;
  state_.interval_loss_sum += step.loss_sum;
  state_.interval_nll_sum += step.nll_sum;
  state_.interval_grad_norm_sum += step.grad_norm;
  state_.interval_target_tokens += step.target_tokens;
  state_.interval_source_tokens += step.source_tokens;
}

TrainingSummary Trainer::run_for(int64_t updates, double max_seconds) {
  return train_loop(updates, max_seconds, false);
}

TrainingSummary Trainer::run() {
  const double max_seconds = config_.max_minutes > 0 ? config_.max_minutes * 60.0 : 0.0;
  return train_loop(std::numeric_limits<int64_t>::max(), max_seconds, true);
}

TrainingSummary Trainer::train_loop(int64_t max_updates_this_call, double max_seconds, bool end_of_run) {
  stop_requested_.store(false);
  const auto start = Clock::now();
  auto interval_start = start;
  TrainingSummary summary;
  double loss_sum = 0, loss_tokens = 0, tokens = 0;
  double interval_step_seconds = 0, interval_communication_seconds = 0;  // the log's all-reduce share

  ProgressOptions progress_options;
  progress_options.label = "train";
  progress_options.unit = "updates";
  progress_options.total = config_.max_updates > 0 ? std::max<int64_t>(config_.max_updates - state_.update, 0) : -1;
  const bool bar = options_.progress && options_.reducer->is_writer() && ::isatty(2);
  progress_options.mode = bar ? ProgressOptions::Mode::kBar : ProgressOptions::Mode::kOff;
  ProgressBar progress(progress_options);

  TrainingScheduler scheduler(config_.max_updates, config_.patience, *options_.reducer, config_.max_nonfinite_updates);
  scheduler.start_call(max_updates_this_call, max_seconds, end_of_run);
  while (true) {
    StopInputs inputs;
    inputs.update = state_.update;
    inputs.validations_without_improvement = state_.validations_without_improvement;
    inputs.updates_this_call = summary.updates;
    inputs.seconds_this_call = seconds_since(start);
    inputs.stop_requested = stop_requested_.load();
    inputs.signal = stop_signal_received();
    summary.reason = scheduler.before_update(inputs, summary.signal);
    if (summary.reason == StopReason::patience)
      spdlog::info(
          "early stop: {} validations in a row without a better {} (training.patience {}); best {:.4f} at "
          "update {}",
          state_.validations_without_improvement, name_of(config_.best_checkpoint_metric), config_.patience,
          state_.best_metric, state_.best_update);
    if (summary.reason != StopReason::none) break;
    const auto planned = plan_->next_update();
    if (!planned) {
      summary.reason = StopReason::max_epochs;
      break;
    }
    const auto step_start = Clock::now();
    const double communication_before = options_.reducer->communication_seconds();
    update_step_->set_length_limits(planned->max_source_length, planned->max_target_length);  // the curriculum stage's
    const UpdateStepResult step = update_step_->run(*plan_->train_dataset(), planned->batches, planned->target_tokens,
                                                    schedule_.rate(state_.update + 1), state_.update + 1);
    const double step_seconds = seconds_since(step_start);
    state_.training_seconds += step_seconds;
    interval_step_seconds += step_seconds;
    interval_communication_seconds += options_.reducer->communication_seconds() - communication_before;
    tokens += static_cast<double>(step.source_tokens + step.target_tokens);
    if (!step.applied) {
      ++state_.skipped_updates;
      ++state_.nonfinite_in_a_row;
      spdlog::warn("update {} skipped: non-finite loss or gradient norm ({} in a row, limit {}; {} skipped in total)",
                   state_.update + 1, state_.nonfinite_in_a_row, config_.max_nonfinite_updates, state_.skipped_updates);
      summary.reason = scheduler.after_skipped_update(state_.nonfinite_in_a_row);
      if (summary.reason != StopReason::none) {
        spdlog::error(
            "stopping: {} consecutive updates had a NaN/Inf loss or gradient (lower lr, raise warmup_updates, "
            "or check the data)",
            state_.nonfinite_in_a_row);
        break;
      }
      continue;
    }
    account(step);
    ++summary.updates;
    summary.last_loss = step.loss_sum / static_cast<double>(std::max<int64_t>(step.target_tokens, 1));
    loss_sum += step.loss_sum;
    loss_tokens += static_cast<double>(step.target_tokens);
    progress.advance();
    if (state_.update % config_.log_interval == 0) {
      progress.set_field("loss", summary.last_loss, 4);
      progress.set_field("lr", fmt::format("{:.2e}", step.lr));
      const std::optional<double> loss_scale =
          amp_ == AmpMode::fp16 ? std::optional<double>(update_step_->loss_scaler().scale()) : std::nullopt;
      std::optional<double> allreduce_share;
      if (options_.world_size > 1)
        allreduce_share = interval_communication_seconds / std::max(interval_step_seconds, 1e-12);
      log_->interval(state_, step.lr, seconds_since(interval_start), loss_scale, allreduce_share);
      interval_step_seconds = interval_communication_seconds = 0;
      state_.interval_updates = 0;
      state_.interval_loss_sum = state_.interval_nll_sum = state_.interval_grad_norm_sum = 0.0;
      state_.interval_target_tokens = state_.interval_source_tokens = 0;
      interval_start = Clock::now();
    }
    if (config_.validate_interval > 0 && state_.update % config_.validate_interval == 0 && valid_) {
      const auto result = validate();
      if (validation_finite(result))
        write_checkpoints(checkpoints_->after_validation(last_validation_improved_, result.update,
                                                         last_validation_metric_, state_.best_checkpoints),
                          &result);
    }
    write_checkpoints(checkpoints_->after_update(state_.update), nullptr);
    if (!diverged_.empty()) {
      summary.reason = StopReason::nonfinite;
      break;
    }
  }
  progress.finish();

  if (end_of_run) finish(name_of(summary.reason));
  if (!diverged_.empty()) summary.reason = StopReason::nonfinite;
  summary.stop_reason = name_of(summary.reason);
  summary.divergence = diverged_;
  summary.update = state_.update;
  summary.epoch = state_.epoch;
  summary.seconds = seconds_since(start);
  summary.updates_per_second = summary.seconds > 0 ? static_cast<double>(summary.updates) / summary.seconds : 0;
  summary.tokens_per_second = summary.seconds > 0 ? tokens / summary.seconds : 0;
  summary.mean_loss = loss_tokens > 0 ? loss_sum / loss_tokens : std::numeric_limits<double>::quiet_NaN();
  return summary;
}

}  // namespace pyramidion
