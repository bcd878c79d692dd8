#include "pyramidion/training/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "pyramidion/data/tokenizer.h"
#include "pyramidion/models/model_file.h"
#include "pyramidion/training/rank_agreement.h"
#include "pyramidion/training/stop_signal.h"
#include "pyramidion/util/device.h"
#include "pyramidion/util/progress.h"

namespace pyramidion {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

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

// {"validation": {...}} for the metadata of best checkpoints (what `pyramidion info` shows).
nlohmann::json validation_metadata(const ValidationResult* validation) {
  nlohmann::json extra = nlohmann::json::object();
  if (validation == nullptr) return extra;
  const ValidationResult& result = *validation;
  extra["validation"] = {{"update", result.update}, {"loss", result.loss}, {"nll_loss", result.nll_loss}};
  if (result.has_rouge)
    extra["validation"].update({{"rouge1", result.rouge.rouge1.fmeasure}, {"rouge2", result.rouge.rouge2.fmeasure},
                                {"rougeL", result.rouge.rougeL.fmeasure}, {"rougeLsum", result.rouge.rougeLsum.fmeasure}});
  return extra;
}

std::string emitted(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

// What every rank of a data-parallel run must share: each model and training key (but the per-rank
// training.device and training.threads), the parameters' names, shapes and dtypes, the tokenizer and the data sizes.
Fingerprints run_fingerprints(const SummarizationModel& model, TrainingConfig training, const std::string& tokenizer,
                              const data::BinaryDataset& train, const data::BinaryDataset* valid) {
  Fingerprints out;
  for (const auto& entry : model->config().to_yaml()["model"])
    out.emplace_back("model." + entry.first.as<std::string>(), fingerprint_of(emitted(entry.second)));
  training.device.clear();
  training.threads = 0;
  for (const auto& entry : training.to_yaml()["training"])
    out.emplace_back("training." + entry.first.as<std::string>(), fingerprint_of(emitted(entry.second)));
  std::string shapes;
  for (const auto& item : model->named_parameters())
    shapes += fmt::format("{}:{}:{};", item.key(), fmt::join(item.value().sizes(), "x"),
                          c10::toString(item.value().scalar_type()));
  out.emplace_back(fmt::format("the parameters ({} tensors, {} values)", model->parameters().size(),
                               model->parameter_count()),
                   fingerprint_of(shapes));
  out.emplace_back("the tokenizer", fingerprint_of(tokenizer));
  out.emplace_back("the training data (" + train.path() + ", " + std::to_string(train.size()) + " examples)",
                   fingerprint_of(std::to_string(train.size())));
  out.emplace_back("the validation data", fingerprint_of(valid ? std::to_string(valid->size()) : std::string("none")));
  return out;
}

}  // namespace

Trainer::Trainer(SummarizationModel model, TrainingConfig config, std::shared_ptr<data::BinaryDataset> train,
                 std::shared_ptr<data::BinaryDataset> valid, std::string tokenizer_bytes, TrainerOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      model_(std::move(model)),
      device_(resolve_device(config_.device)),
      train_(std::move(train)),
      valid_(std::move(valid)),
      tokenizer_bytes_(std::move(tokenizer_bytes)) {
  initialize();
}

Trainer::Trainer(const ModelConfig& model_config, TrainingConfig config, std::shared_ptr<data::BinaryDataset> train,
                 std::shared_ptr<data::BinaryDataset> valid, std::string tokenizer_bytes, TrainerOptions options)
    : Trainer(seeded_model(model_config, config.seed), std::move(config),
              std::move(train), std::move(valid), std::move(tokenizer_bytes), std::move(options)) {}

Trainer::~Trainer() = default;

void Trainer::initialize() {
  config_.validate();
  if (!train_ || train_->size() == 0) throw std::invalid_argument("the training set is empty");
  const auto& mc = model_->config();
  if (train_->vocab_size() > mc.vocab_size)
    throw std::invalid_argument(train_->path() + ": token ids up to " + std::to_string(train_->vocab_size()) +
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
  check_ranks_agree(*options_.reducer, run_fingerprints(model_, config_, tokenizer_bytes_, *train_, valid_.get()));
  if (config_.threads > 0) torch::set_num_threads(static_cast<int>(config_.threads));
  torch::manual_seed(static_cast<uint64_t>(config_.seed));  // dropout stream
  model_->to(device_);
  model_->train();
  update_step_ = std::make_unique<UpdateStep>(model_, config_, amp_, device_, options_.reducer);
  validator_ = std::make_unique<Validator>(model_, device_, tokenizer_bytes_, ValidatorOptions::from_config(config_, amp_));
  validator_->set_reducer(options_.reducer);  // several processes: each validates a shard, the sums are reduced
  const bool is_writer = options_.reducer->is_writer();
  CheckpointPolicyOptions checkpoint_options;
  checkpoint_options.save_dir = options_.save_dir;
  checkpoint_options.save_interval_updates = config_.save_interval_updates;
  checkpoint_options.keep_last = config_.keep_last;
  checkpoint_options.is_writer = is_writer;
  checkpoint_options.keep_best = config_.keep_best_checkpoints;
  checkpoint_options.maximize = config_.metric_maximized();
  checkpoints_ = std::make_unique<CheckpointPolicy>(checkpoint_options);
  for (const auto& evicted : checkpoints_->finish_interrupted_evictions())
    spdlog::warn("{}: finished removing it (its eviction was interrupted; it was no longer among the keep_last {})",
                 evicted, config_.keep_last);
  TrainingLogOptions log_options;
  log_options.save_dir = options_.save_dir;
  log_options.log_lines = options_.log_lines;
  log_options.is_writer = is_writer;
  log_options.max_updates = config_.max_updates;
  log_options.best_metric = config_.best_checkpoint_metric;
  log_options.world_size = options_.world_size;
  log_ = std::make_unique<TrainingLog>(log_options);
  schedule_ = LrSchedule::from_config(config_);
  curriculum_ = Curriculum(config_.curriculum);
  if (curriculum_.enabled() && curriculum_.config().overlong == OverlongExamples::skip)
    for (int64_t stage = 1; stage < curriculum_.stages(); ++stage)  // stage 0 is checked below
      if (curriculum_.examples(stage, clipped_source_lengths(*train_, mc), clipped_target_lengths(*train_, mc)).kept.empty())
        throw std::invalid_argument("training.curriculum.stages." + std::to_string(stage) + ": no example of " +
                                    train_->path() + " fits its lengths (overlong: skip)");
  apply_curriculum_stage(0, /*fresh_epoch=*/false);
  state_.train_examples = static_cast<int64_t>(train_->size());
  state_.loss_scale = update_step_->loss_scaler().scale();
  state_.world_size = options_.world_size;
  if (!options_.save_dir.empty() && is_writer) fs::create_directories(options_.save_dir);
}

std::vector<ExampleBatch> Trainer::epoch_batches(int64_t epoch) const {
  // Several processes: rank r of N takes batches r, r + N, ... of the global order, equally many on every rank.
  auto this_rank_of = [this](std::vector<ExampleBatch> batches) {
    if (options_.world_size == 1) return batches;
    return equal_shard_batches(batches, options_.rank, options_.world_size);
  };
  BatchingOptions batching;
  const int64_t stage_tokens = curriculum_.stage(state_.curriculum_stage).max_tokens;
  batching.max_tokens = stage_tokens > 0 ? stage_tokens : config_.max_tokens;
  batching.sort_window = config_.sort_window;
  batching.seed = static_cast<uint64_t>(config_.seed);
  if (train_kept_.size() == train_source_lengths_.size())  // every example takes part
    return this_rank_of(make_token_budget_batches(train_source_lengths_, train_target_lengths_, batching, epoch));
  // A curriculum stage that skips overlong examples: batch the kept ones, then map back to dataset indices.
  std::vector<int64_t> source, target;
  for (int64_t i : train_kept_) {
    source.push_back(train_source_lengths_[static_cast<size_t>(i)]);
    target.push_back(train_target_lengths_[static_cast<size_t>(i)]);
  }
  auto batches = make_token_budget_batches(source, target, batching, epoch);
  for (auto& batch : batches)
    for (auto& i : batch) i = train_kept_[static_cast<size_t>(i)];
  return this_rank_of(std::move(batches));
}

void Trainer::apply_curriculum_stage(int64_t stage, bool fresh_epoch) {
  const auto& mc = model_->config();
  StageExamples examples =
      curriculum_.examples(stage, clipped_source_lengths(*train_, mc), clipped_target_lengths(*train_, mc));
  if (examples.kept.empty())
    throw std::invalid_argument("training.curriculum.stages." + std::to_string(stage) + ": no example of " +
                                train_->path() + " fits its lengths (overlong: skip)");
  train_source_lengths_ = std::move(examples.source_lengths);
  train_target_lengths_ = std::move(examples.target_lengths);
  train_kept_ = std::move(examples.kept);
  const CurriculumStage& s = curriculum_.stage(stage);
  update_step_->set_length_limits(s.max_source_length, s.max_target_length);
  const bool changed = stage != state_.curriculum_stage;
  state_.curriculum_stage = stage;
  if (fresh_epoch && state_.batch_in_epoch > 0) {
    ++state_.epoch;
    state_.batch_in_epoch = 0;
  }
  epoch_order_for_ = -1;
  if (curriculum_.enabled() && (changed || !fresh_epoch) && options_.log_lines && options_.reducer->is_writer())
    spdlog::info("curriculum: {} from update {} (epoch {}; {} of {} examples)",
                 curriculum_.describe(stage, config_.max_tokens), state_.update + 1, state_.epoch, train_kept_.size(),
                 train_->size());
}

void Trainer::sync_curriculum() {
  if (!curriculum_.enabled()) return;
  const int64_t stage = curriculum_.stage_at(state_.update, state_.epoch, state_.curriculum_stage);
  if (stage != state_.curriculum_stage) apply_curriculum_stage(stage, /*fresh_epoch=*/true);
}

void Trainer::set_curriculum_stage(int64_t stage) {
  if (stage < 0 || stage >= curriculum_.stages())
    throw std::invalid_argument("set_curriculum_stage: stage " + std::to_string(stage) + " is outside 0.." +
                                std::to_string(curriculum_.stages() - 1));
  if (stage != state_.curriculum_stage) apply_curriculum_stage(stage, /*fresh_epoch=*/true);
}

double Trainer::learning_rate() const { return schedule_.rate(state_.update + 1); }

void Trainer::on_validation(ValidationCallback callback) { callbacks_.push_back(std::move(callback)); }
void Trainer::set_auxiliary_loss(AuxiliaryLoss loss) { update_step_->set_auxiliary_loss(std::move(loss)); }
void Trainer::request_stop() { stop_requested_.store(true); }

void Trainer::set_train_dataset(std::shared_ptr<data::BinaryDataset> dataset, int64_t max_tokens) {
  if (!dataset || dataset->size() == 0) throw std::invalid_argument("set_train_dataset: the training set is empty");
  if (max_tokens < 0) throw std::invalid_argument("set_train_dataset: max_tokens must be >= 0");
  if (max_tokens > 0) {
    config_.max_tokens = max_tokens;
    if (config_.valid_max_tokens == 0) validator_->options().max_tokens = max_tokens;  // valid_max_tokens 0 follows
  }
  train_ = std::move(dataset);
  apply_curriculum_stage(state_.curriculum_stage, /*fresh_epoch=*/true);
  state_.train_examples = static_cast<int64_t>(train_->size());
}

void Trainer::set_valid_dataset(std::shared_ptr<data::BinaryDataset> dataset) { valid_ = std::move(dataset); }

std::optional<std::vector<ExampleBatch>> Trainer::next_update_batches() {
  std::vector<ExampleBatch> group;
  sync_curriculum();  // unit updates: the stage of this update
  while (static_cast<int64_t>(group.size()) < config_.update_freq) {
    if (epoch_order_for_ != state_.epoch) {
      sync_curriculum();  // unit epochs: the stage of this epoch
      epoch_order_ = epoch_batches(state_.epoch);
      epoch_order_for_ = state_.epoch;
    }
    if (state_.batch_in_epoch >= static_cast<int64_t>(epoch_order_.size())) {
      if (config_.max_epochs > 0 && state_.epoch >= config_.max_epochs) break;
      ++state_.epoch;
      state_.batch_in_epoch = 0;
      continue;
    }
    group.push_back(epoch_order_[static_cast<size_t>(state_.batch_in_epoch++)]);
  }
  if (group.empty()) return std::nullopt;
  return group;
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

ValidationResult Trainer::validate() {
  if (!valid_ || valid_->size() == 0) throw std::logic_error("validate(): no validation set");
  const ValidationResult result = validator_->validate(*valid_, state_.update);
  after_validation(result);
  return result;
}

void Trainer::after_validation(const ValidationResult& result) {
  const double value = result.metric(config_.best_checkpoint_metric);
  const bool improved = std::isfinite(value) &&
                        (!state_.has_best || (config_.metric_maximized() ? value > state_.best_metric : value < state_.best_metric));
  if (improved) {
    state_.has_best = true;
    state_.best_metric = value;
    state_.best_update = result.update;
  }
  last_validation_improved_ = improved;
  last_validation_metric_ = value;
  state_.validations_without_improvement = improved ? 0 : state_.validations_without_improvement + 1;
  state_.last_validated_update = result.update;
  log_->validation(result, state_, improved);
  for (const auto& callback : callbacks_) callback(result);
}

void Trainer::save_checkpoint(const std::string& path) {
  state_.loss_scale = update_step_->loss_scaler().scale();
  state_.loss_scale_clean_updates = update_step_->loss_scaler().clean_updates();
  nlohmann::json extra;
  extra["training_config"] = [&] {
    YAML::Emitter out;
    out << config_.to_yaml();
    return std::string(out.c_str());
  }();
  pyramidion::save_checkpoint(path, model_, tokenizer_bytes_, state_, &update_step_->optimizer(), extra);
}

bool Trainer::parameters_finite() const {
  torch::NoGradGuard no_grad;
  for (const auto& p : model_->parameters())
    if (!torch::isfinite(p).all().item<bool>()) return false;
  return true;
}

void Trainer::write_checkpoints(const CheckpointWrites& writes, const ValidationResult* validation) {
  if (!diverged_.empty()) return;
  if (writes.any() && checkpoints_->writes() && !parameters_finite()) {
    diverged_ = fmt::format("the weights after update {} are not finite", state_.update);
    spdlog::error("{}: no checkpoint written, {} keeps the last good one", diverged_, checkpoints_->last_path());
    return;
  }
  // Best before last: checkpoint_last.pt's state records the best update, so a kill between the two writes must
  // leave a best file at least as new as that record (never an old best with a log that says otherwise).
  if (writes.best && validation != nullptr)
    pyramidion::save_checkpoint(checkpoints_->best_path(), model_, tokenizer_bytes_, state_, nullptr,
                                validation_metadata(validation));
  if (writes.ranked_update >= 0) {
    // Written before checkpoint_last.pt records it in the state's list; evicted files go after that write.
    pyramidion::save_checkpoint(checkpoints_->ranked_best_path(writes.ranked_update), model_, tokenizer_bytes_,
                                state_, nullptr, validation_metadata(validation));
    state_.best_checkpoints = writes.ranked_after;
  }
  if (writes.last) save_checkpoint(checkpoints_->last_path());
  for (int64_t update : writes.ranked_removed) remove_checkpoint(checkpoints_->ranked_best_path(update));
  if (writes.periodic_update >= 0) {
    save_checkpoint(checkpoints_->periodic_path(writes.periodic_update));
    checkpoints_->remove_old_periodic(writes.periodic_update);
  }
  checkpoints_->wrote(writes, state_.update);
}

void Trainer::load_checkpoint(const std::string& path) {
  const auto loaded = pyramidion::load_checkpoint(path, model_, &update_step_->optimizer());
  // The same vocabulary size is not enough: other pieces under the same ids would train on nonsense.
  if (!tokenizer_bytes_.empty() && !loaded.tokenizer_bytes.empty() &&
      data::tokenizer_checksum(loaded.tokenizer_bytes) != data::tokenizer_checksum(tokenizer_bytes_))
    throw std::runtime_error(
        path + ": the checkpoint was trained with another tokenizer (" +
        data::tokenizer_checksum_text(data::tokenizer_checksum(loaded.tokenizer_bytes)) + ") than this run's (" +
        data::tokenizer_checksum_text(data::tokenizer_checksum(tokenizer_bytes_)) + ")");
  state_ = loaded.state;
  update_step_->loss_scaler().restore(state_.loss_scale, state_.loss_scale_clean_updates);
  if (state_.train_examples != static_cast<int64_t>(train_->size())) {
    spdlog::warn("{}: the checkpoint's training set had {} examples, this one has {}: continuing in a fresh epoch",
                 path, state_.train_examples, train_->size());
    if (state_.batch_in_epoch > 0) ++state_.epoch;
    state_.batch_in_epoch = 0;
    state_.train_examples = static_cast<int64_t>(train_->size());
  }
  if (state_.world_size != options_.world_size) {
    // batch_in_epoch counts this rank's batches: the epoch position in the global order is that times the world size.
    const int64_t global_position = state_.batch_in_epoch * state_.world_size;
    spdlog::warn("{}: written by {} processes, resumed on {}: continuing from update {} at batch {} of epoch {}, but the "
                 "batch order changes (each update now holds other batches; results differ from an uninterrupted run)",
                 path, state_.world_size, options_.world_size, state_.update, global_position, state_.epoch);
    state_.batch_in_epoch = global_position / options_.world_size;
    state_.world_size = options_.world_size;
  }
  int64_t stage = state_.curriculum_stage;
  if (stage >= curriculum_.stages()) {
    spdlog::warn("{}: the checkpoint is in curriculum stage {}, the config has {}: continuing in the last one", path,
                 stage + 1, curriculum_.stages());
    stage = curriculum_.stages() - 1;
  }
  state_.curriculum_stage = -1;  // the data position stays; the stage's lengths and order are rebuilt
  apply_curriculum_stage(stage, /*fresh_epoch=*/false);
  log_->resume_at(state_.update);
  checkpoints_->last_holds(state_.update);
  if (const auto superseded = checkpoints_->supersede_newer_than(state_.update); !superseded.empty())
    spdlog::warn("{}: holds update {}, but {} periodic checkpoint(s) are newer ({} ...), from the continuation that was "
                 "cut off: renamed to *.pt.superseded (this run writes its own)",
                 path, state_.update, superseded.size(), superseded.front());
  model_->train();
  spdlog::info("resumed from {}: update {}, epoch {} (batch {} of the epoch), best {} {}", path, state_.update,
               state_.epoch, state_.batch_in_epoch, name_of(config_.best_checkpoint_metric),
               state_.has_best ? fmt::format("{:.4f}", state_.best_metric) : std::string("none yet"));
}

void Trainer::init_from(const std::string& path, InitFromOptions options) {
  const ModelFileContents contents = read_model_file_contents(path);
  if (!tokenizer_bytes_.empty() && contents.tokenizer_bytes != tokenizer_bytes_)
    throw std::invalid_argument(path + ": its tokenizer differs from this run's (the token ids would mean other "
                                "pieces; prepare the data with that model's tokenizer)");
  const ModelConfig saved = ModelConfig::from_yaml_string(contents.config_yaml, path);
  const bool same_config = saved.to_yaml_string() == model_->config().to_yaml_string();
  load_model_weights(*model_, contents.weights, path);
  const auto metadata = nlohmann::json::parse(contents.metadata_json, nullptr, false);
  const bool resumable = metadata.is_object() && metadata.contains("state_file") && metadata.contains("training_state");
  TrainingState fresh;
  fresh.train_examples = static_cast<int64_t>(train_->size());
  fresh.world_size = options_.world_size;
  fresh.loss_scale = update_step_->loss_scaler().scale();
  std::string optimizer_note = "fresh optimizer";
  if (resumable && !options.reset_optimizer) {
    if (!same_config)
      throw std::invalid_argument(path + ": its model config differs from this run's, so its optimizer state cannot "
                                  "be used: pass --reset-optimizer (weights only)");
    const auto loaded = pyramidion::load_checkpoint(path, model_, &update_step_->optimizer());
    optimizer_note = "its optimizer state";
    if (!options.reset_lr_scheduler) fresh.update = loaded.state.update;
  } else if (!options.reset_lr_scheduler && metadata.is_object() && metadata.contains("training_state")) {
    fresh.update = TrainingState::from_json(metadata["training_state"]).update;
  }
  torch::manual_seed(static_cast<uint64_t>(config_.seed));  // the same dropout stream as a run from scratch
  state_ = fresh;
  epoch_order_for_ = -1;
  log_->resume_at(-1);
  model_->to(device_);
  model_->train();
  spdlog::info("initialized from {}: its weights{}, {}, counting updates from {}", path,
               same_config ? "" : " (model config differs in keys that do not change shapes)", optimizer_note,
               state_.update);
}

TrainingSummary Trainer::run_for(int64_t updates, double max_seconds) { return train_loop(updates, max_seconds, false); }

TrainingSummary Trainer::run() {
  const double max_seconds = config_.max_minutes > 0 ? config_.max_minutes * 60.0 : 0.0;
  return train_loop(std::numeric_limits<int64_t>::max(), max_seconds, true);
}

bool Trainer::validation_finite(const ValidationResult& result) {
  if (std::isfinite(result.loss)) return true;
  diverged_ = fmt::format("the validation loss after update {} is not finite", state_.update);
  spdlog::error("{}: no checkpoint written, {} keeps the last good one", diverged_, checkpoints_->last_path());
  return false;
}

void Trainer::finish(const std::string& stop_reason) {
  if (stop_reason == "nonfinite" || !diverged_.empty()) return;
  const bool validate_now = config_.validate_at_end && valid_ && stop_reason != "signal" &&
                            state_.last_validated_update != state_.update;
  if (validate_now) {
    const auto result = validate();
    if (!validation_finite(result)) return;
    write_checkpoints(checkpoints_->after_validation(last_validation_improved_, result.update, last_validation_metric_,
                                                     state_.best_checkpoints), &result);
  } else {
    write_checkpoints(checkpoints_->at_end(state_.update), nullptr);
  }
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

  TrainingScheduler scheduler(config_.max_updates, config_.patience, *options_.reducer);
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
      spdlog::info("early stop: {} validations in a row without a better {} (training.patience {}); best {:.4f} at "
                   "update {}", state_.validations_without_improvement, name_of(config_.best_checkpoint_metric),
                   config_.patience, state_.best_metric, state_.best_update);
    if (summary.reason != StopReason::none) break;
    auto batches = next_update_batches();
    if (!batches) {
      summary.reason = StopReason::max_epochs;
      break;
    }
    const auto step_start = Clock::now();
    const double communication_before = options_.reducer->communication_seconds();
    int64_t update_tokens = 0;
    for (const auto& batch : *batches)
      for (int64_t i : batch) update_tokens += train_target_lengths_[static_cast<size_t>(i)];
    const UpdateStepResult step = update_step_->run(*train_, *batches, update_tokens, schedule_.rate(state_.update + 1),
                                                    state_.update + 1);
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
      if (state_.nonfinite_in_a_row >= config_.max_nonfinite_updates) {
        spdlog::error("stopping: {} consecutive updates had a NaN/Inf loss or gradient (lower lr, raise warmup_updates, "
                      "or check the data)", state_.nonfinite_in_a_row);
        summary.reason = StopReason::nonfinite;
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
      if (options_.world_size > 1) allreduce_share = interval_communication_seconds / std::max(interval_step_seconds, 1e-12);
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
        write_checkpoints(checkpoints_->after_validation(last_validation_improved_, result.update, last_validation_metric_,
                                                         state_.best_checkpoints), &result);
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
