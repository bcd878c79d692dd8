#pragma once
// Which batches the next update trains on: the epoch's token-budget batch order (training/token_budget_batcher.h),
// the length-curriculum stage it is made for (training/curriculum.h), this rank's equal shard of it, and the data
// position in the run's TrainingState (epoch, batch_in_epoch, curriculum_stage, train_examples, world_size).
// The order is a pure function of (lengths, options, epoch), so the position is all a checkpoint needs: a plan
// over a restored state gives the same remaining batches as the plan that wrote it.
//
//   TrainingState state;
//   BatchPlan plan(BatchPlanOptions::from_config(config, rank, world_size), model_config, train, state);
//   while (auto update = plan.next_update()) train_on(update->batches);   // nullopt: max_epochs reached
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/models/model_config.h"
#include "pyramidion/training/checkpoint.h"
#include "pyramidion/training/curriculum.h"
#include "pyramidion/training/token_budget_batcher.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion {

struct BatchPlanOptions {
  int64_t max_tokens = 16384;  // token budget per batch, unless the curriculum stage sets its own
  int64_t sort_window = 16384;
  uint64_t seed = 1;
  int64_t update_freq = 1;      // batches per update
  int64_t max_epochs = 0;       // 0 = no limit
  CurriculumConfig curriculum;  // no stages = off
  // Data-parallel shard: rank r of world_size takes batches r, r + N, ... of each epoch's order, equally many on
  // every rank (training/distributed_context.h).
  int64_t rank = 0;
  int64_t world_size = 1;
  bool log_stages = true;  // an info line when a curriculum stage starts

  static BatchPlanOptions from_config(const TrainingConfig& config, int64_t rank, int64_t world_size);
};

// One update's share of the data.
struct PlannedUpdate {
  std::vector<ExampleBatch> batches;  // update_freq batches (fewer only when max_epochs ends the data)
  int64_t target_tokens = 0;          // their target tokens as the stage cuts them (the loss is per token of these)
  int64_t max_source_length = 0;      // the stage's cut for the collation; 0 = the model's positions
  int64_t max_target_length = 0;
};

class BatchPlan {
 public:
  // Reads and moves the data position of `state` (which must outlive the plan); starts in stage 0 without
  // touching epoch or batch_in_epoch, and records the training set size and world size in it. Throws
  // std::invalid_argument when a curriculum stage keeps no example of `train` (overlong: skip).
  BatchPlan(BatchPlanOptions options, const ModelConfig& model, std::shared_ptr<data::BinaryDataset> train,
            TrainingState& state);

  // The batches of the next update, moving the position (and the curriculum stage when its `until` is reached,
  // in a fresh epoch); nullopt when max_epochs is reached.
  std::optional<PlannedUpdate> next_update();
  std::vector<ExampleBatch> epoch_batches(int64_t epoch) const;  // this rank's batch order of `epoch`

  // After the state was replaced by a checkpoint's (`origin` names it in warnings): continues at its data
  // position, in a fresh epoch when the training set changed size, mapped onto this world size when another
  // wrote it, in the last stage when the checkpoint's stage is beyond this curriculum.
  void restore(const std::string& origin);
  // The state now counts a new run (init_from): the batch order is made again for its epoch.
  void restart() { order_for_ = -1; }

  // Trains on `train` from the next update on, in a fresh epoch; max_tokens > 0 also sets the token budget.
  void set_train_dataset(std::shared_ptr<data::BinaryDataset> train, int64_t max_tokens = 0);
  // The stage of the next update (unit manual: the program's choice), in a fresh epoch when it changes.
  void set_stage(int64_t stage);

  const std::shared_ptr<data::BinaryDataset>& train_dataset() const { return train_; }
  const Curriculum& curriculum() const { return curriculum_; }
  int64_t stage() const { return state_.curriculum_stage; }
  int64_t max_tokens() const { return options_.max_tokens; }

 private:
  void apply_stage(int64_t stage, bool fresh_epoch);  // the stage's lengths and budget; the order is remade
  void sync_stage();                                  // the stage of the next update (units updates / epochs)

  BatchPlanOptions options_;
  ModelConfig model_;
  std::shared_ptr<data::BinaryDataset> train_;
  TrainingState& state_;
  Curriculum curriculum_;
  // Per example of train_, as the current stage's batches see them; kept_: the examples in the stage.
  std::vector<int64_t> source_lengths_, target_lengths_, kept_;
  std::vector<ExampleBatch> order_;  // this rank's batch order of epoch order_for_
  int64_t order_for_ = -1;
};

}  // namespace pyramidion
