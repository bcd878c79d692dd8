#include "pyramidion/training/batch_plan.h"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <utility>

#include "pyramidion/training/batch.h"

namespace pyramidion {

BatchPlanOptions BatchPlanOptions::from_config(const TrainingConfig& config, int64_t rank, int64_t world_size) {
  BatchPlanOptions options;
  options.max_tokens = config.max_tokens;
  options.sort_window = config.sort_window;
  options.seed = static_cast<uint64_t>(config.seed);
  options.update_freq = config.update_freq;
  options.max_epochs = config.max_epochs;
  options.curriculum = config.curriculum;
  options.rank = rank;
  options.world_size = world_size;
  return options;
}

BatchPlan::BatchPlan(BatchPlanOptions options, const ModelConfig& model, std::shared_ptr<data::BinaryDataset> train,
                     TrainingState& state)
    : options_(std::move(options)),
      model_(model),
      train_(std::move(train)),
      state_(state),
      curriculum_(options_.curriculum) {
  if (!train_ || train_->size() == 0) throw std::invalid_argument("the training set is empty");
  // Every stage is checked now, not when training reaches it hours later (stage 0: by apply_stage below).
  if (curriculum_.enabled() && curriculum_.config().overlong == OverlongExamples::skip)
    for (int64_t stage = 1; stage < curriculum_.stages(); ++stage)
      if (curriculum_.examples(stage, clipped_source_lengths(*train_, model_), clipped_target_lengths(*train_, model_))
              .kept.empty())
        throw std::invalid_argument("training.curriculum.stages." + std::to_string(stage) + ": no example of " +
                                    train_->path() + " fits its lengths (overlong: skip)");
  apply_stage(0, /*fresh_epoch=*/false);
  state_.train_examples = static_cast<int64_t>(train_->size());
  state_.world_size = options_.world_size;
}

std::vector<ExampleBatch> BatchPlan::epoch_batches(int64_t epoch) const {
  // Several processes: rank r of N takes batches r, r + N, ... of the global order, equally many on every rank.
  auto this_rank_of = [this](std::vector<ExampleBatch> batches) {
    if (options_.world_size == 1) return batches;
    return equal_shard_batches(batches, options_.rank, options_.world_size);
  };
  BatchingOptions batching;
  const int64_t stage_tokens = curriculum_.stage(state_.curriculum_stage).max_tokens;
  batching.max_tokens = stage_tokens > 0 ? stage_tokens : options_.max_tokens;
  batching.sort_window = options_.sort_window;
  batching.seed = options_.seed;
  if (kept_.size() == source_lengths_.size())  // every example takes part
    return this_rank_of(make_token_budget_batches(source_lengths_, target_lengths_, batching, epoch));
  // A curriculum stage that skips overlong examples: batch the kept ones, then map back to dataset indices.
  std::vector<int64_t> source, target;
  for (int64_t i : kept_) {
    source.push_back(source_lengths_[static_cast<size_t>(i)]);
    target.push_back(target_lengths_[static_cast<size_t>(i)]);
  }
  auto batches = make_token_budget_batches(source, target, batching, epoch);
  for (auto& batch : batches)
    for (auto& i : batch) i = kept_[static_cast<size_t>(i)];
  return this_rank_of(std::move(batches));
}

std::optional<PlannedUpdate> BatchPlan::next_update() {
  PlannedUpdate update;
  sync_stage();  // unit updates: the stage of this update
  while (static_cast<int64_t>(update.batches.size()) < options_.update_freq) {
    if (order_for_ != state_.epoch) {
      sync_stage();  // unit epochs: the stage of this epoch
      order_ = epoch_batches(state_.epoch);
      order_for_ = state_.epoch;
    }
    if (state_.batch_in_epoch >= static_cast<int64_t>(order_.size())) {
      if (options_.max_epochs > 0 && state_.epoch >= options_.max_epochs) break;
      ++state_.epoch;
      state_.batch_in_epoch = 0;
      continue;
    }
    update.batches.push_back(order_[static_cast<size_t>(state_.batch_in_epoch++)]);
  }
  if (update.batches.empty()) return std::nullopt;
  for (const auto& batch : update.batches)
    for (int64_t i : batch) update.target_tokens += target_lengths_[static_cast<size_t>(i)];
  const CurriculumStage& stage = curriculum_.stage(state_.curriculum_stage);
  update.max_source_length = stage.max_source_length;
  update.max_target_length = stage.max_target_length;
  return update;
}

void BatchPlan::apply_stage(int64_t stage, bool fresh_epoch) {
  StageExamples examples =
      curriculum_.examples(stage, clipped_source_lengths(*train_, model_), clipped_target_lengths(*train_, model_));
  if (examples.kept.empty())
    throw std::invalid_argument("training.curriculum.stages." + std::to_string(stage) + ": no example of " +
                                train_->path() + " fits its lengths (overlong: skip)");
  source_lengths_ = std::move(examples.source_lengths);
  target_lengths_ = std::move(examples.target_lengths);
  kept_ = std::move(examples.kept);
  const bool changed = stage != state_.curriculum_stage;
  state_.curriculum_stage = stage;
  if (fresh_epoch && state_.batch_in_epoch > 0) {
    ++state_.epoch;
    state_.batch_in_epoch = 0;
  }
  order_for_ = -1;
  if (curriculum_.enabled() && (changed || !fresh_epoch) && options_.log_stages)
    spdlog::info("curriculum: {} from update {} (epoch {}; {} of {} examples)",
                 curriculum_.describe(stage, options_.max_tokens), state_.update + 1, state_.epoch, kept_.size(),
                 train_->size());
}

void BatchPlan::sync_stage() {
  if (!curriculum_.enabled()) return;
  const int64_t stage = curriculum_.stage_at(state_.update, state_.epoch, state_.curriculum_stage);
  if (stage != state_.curriculum_stage) apply_stage(stage, /*fresh_epoch=*/true);
}

void BatchPlan::set_stage(int64_t stage) {
  if (stage < 0 || stage >= curriculum_.stages())
    throw std::invalid_argument("set_curriculum_stage: stage " + std::to_string(stage) + " is outside 0.." +
                                std::to_string(curriculum_.stages() - 1));
  if (stage != state_.curriculum_stage) apply_stage(stage, /*fresh_epoch=*/true);
}

void BatchPlan::set_train_dataset(std::shared_ptr<data::BinaryDataset> train, int64_t max_tokens) {
  if (!train || train->size() == 0) throw std::invalid_argument("set_train_dataset: the training set is empty");
  if (max_tokens < 0) throw std::invalid_argument("set_train_dataset: max_tokens must be >= 0");
  if (max_tokens > 0) options_.max_tokens = max_tokens;
  train_ = std::move(train);
  apply_stage(state_.curriculum_stage, /*fresh_epoch=*/true);
  state_.train_examples = static_cast<int64_t>(train_->size());
}

void BatchPlan::restore(const std::string& origin) {
  if (state_.train_examples != static_cast<int64_t>(train_->size())) {
    spdlog::warn("{}: the checkpoint's training set had {} examples, this one has {}: continuing in a fresh epoch",
                 origin, state_.train_examples, train_->size());
    if (state_.batch_in_epoch > 0) ++state_.epoch;
    state_.batch_in_epoch = 0;
    state_.train_examples = static_cast<int64_t>(train_->size());
  }
  if (state_.world_size != options_.world_size) {
    // batch_in_epoch counts this rank's batches: the epoch position in the global order is that times the world size.
    const int64_t global_position = state_.batch_in_epoch * state_.world_size;
    spdlog::warn(
        "{}: written by {} processes, resumed on {}: continuing from update {} at batch {} of epoch {}, but the "
        "batch order changes (each update now holds other batches; results differ from an uninterrupted run)",
        origin, state_.world_size, options_.world_size, state_.update, global_position, state_.epoch);
    state_.batch_in_epoch = global_position / options_.world_size;
    state_.world_size = options_.world_size;
  }
  int64_t stage = state_.curriculum_stage;
  if (stage >= curriculum_.stages()) {
    spdlog::warn("{}: the checkpoint is in curriculum stage {}, the config has {}: continuing in the last one", origin,
                 stage + 1, curriculum_.stages());
    stage = curriculum_.stages() - 1;
  }
  state_.curriculum_stage = -1;  // the data position stays; the stage's lengths and order are rebuilt
  apply_stage(stage, /*fresh_epoch=*/false);
}

}  // namespace pyramidion
