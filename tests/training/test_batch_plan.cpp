// training/batch_plan.h on its own (no model, no trainer): the data position in a TrainingState is all a resumed
// run needs, ranks get equal shards that together are the one-process order, the epoch and stage boundaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "pyramidion/training/batch_plan.h"
#include "training_test_support.h"

namespace pyramidion {
namespace {

BatchPlanOptions plan_options(int64_t update_freq = 2, int64_t rank = 0, int64_t world_size = 1) {
  BatchPlanOptions options;
  options.max_tokens = 160;
  options.seed = 7;
  options.update_freq = update_freq;
  options.rank = rank;
  options.world_size = world_size;
  options.log_stages = false;
  return options;
}

std::vector<ExampleBatch> take(BatchPlan& plan, int64_t updates) {
  std::vector<ExampleBatch> batches;
  for (int64_t u = 0; u < updates; ++u) {
    auto update = plan.next_update();
    if (!update) break;
    batches.insert(batches.end(), update->batches.begin(), update->batches.end());
  }
  return batches;
}

TEST(BatchPlan, RestoredPositionGivesTheSameRemainingOrder) {
  testing::TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 60, 3);
  const ModelConfig model = testing::tiny_model_config();

  TrainingState uninterrupted;
  BatchPlan reference(plan_options(), model, data, uninterrupted);
  const int64_t per_epoch = static_cast<int64_t>(reference.epoch_batches(1).size());
  ASSERT_GE(per_epoch, 8);
  const auto all = take(reference, per_epoch);  // update_freq 2: crosses into epoch 2

  TrainingState first_state;
  BatchPlan first(plan_options(), model, data, first_state);
  const auto head = take(first, 3);
  TrainingState saved = TrainingState::from_json(first_state.to_json());  // as a checkpoint stores it
  EXPECT_EQ(saved.batch_in_epoch, 6);

  TrainingState resumed_state;
  BatchPlan resumed(plan_options(), model, data, resumed_state);
  resumed_state = saved;
  resumed.restore("checkpoint_last.pt");
  auto rest = take(resumed, per_epoch - 3);
  std::vector<ExampleBatch> joined = head;
  joined.insert(joined.end(), rest.begin(), rest.end());
  EXPECT_EQ(joined, all);
  EXPECT_EQ(resumed_state.epoch, uninterrupted.epoch);
  EXPECT_EQ(resumed_state.batch_in_epoch, uninterrupted.batch_in_epoch);
}

TEST(BatchPlan, RanksGetEqualShardsThatInterleaveToTheOneProcessOrder) {
  testing::TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 61, 5);
  const ModelConfig model = testing::tiny_model_config();
  TrainingState alone_state;
  const BatchPlan alone(plan_options(1), model, data, alone_state);
  const auto order = alone.epoch_batches(2);
  constexpr int64_t kRanks = 3;
  std::vector<std::vector<ExampleBatch>> shards;
  for (int64_t rank = 0; rank < kRanks; ++rank) {
    TrainingState state;
    const BatchPlan plan(plan_options(1, rank, kRanks), model, data, state);
    EXPECT_EQ(state.world_size, kRanks);
    shards.push_back(plan.epoch_batches(2));
  }
  const size_t length = order.size() / kRanks;  // the remainder of the order is left out
  for (int64_t rank = 0; rank < kRanks; ++rank) {
    ASSERT_EQ(shards[static_cast<size_t>(rank)].size(), length) << "rank " << rank;
    for (size_t j = 0; j < length; ++j)
      EXPECT_EQ(shards[static_cast<size_t>(rank)][j], order[j * kRanks + static_cast<size_t>(rank)]);
  }
}

TEST(BatchPlan, CountsTargetTokensAndStopsAtMaxEpochs) {
  testing::TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 20, 9);
  BatchPlanOptions options = plan_options(3);
  options.max_epochs = 1;
  TrainingState state;
  BatchPlan plan(options, testing::tiny_model_config(), data, state);
  EXPECT_EQ(state.train_examples, 20);
  const int64_t per_epoch = static_cast<int64_t>(plan.epoch_batches(1).size());
  int64_t batches = 0;
  while (auto update = plan.next_update()) {
    int64_t tokens = 0;
    for (const auto& batch : update->batches)
      for (int64_t i : batch) tokens += data->target_lengths()[i];
    EXPECT_EQ(update->target_tokens, tokens);
    batches += static_cast<int64_t>(update->batches.size());
  }
  EXPECT_EQ(batches, per_epoch);  // the last update may hold fewer than update_freq batches
  EXPECT_EQ(state.epoch, 1);
  EXPECT_FALSE(plan.next_update().has_value());
}

TEST(BatchPlan, CurriculumStageStartsAFreshEpochWithItsCut) {
  testing::TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 40, 13);
  BatchPlanOptions options = plan_options(1);
  CurriculumStage short_documents;
  short_documents.until = 2;
  short_documents.max_source_length = 12;
  options.curriculum.stages = {short_documents, CurriculumStage{}};
  TrainingState state;
  BatchPlan plan(options, testing::tiny_model_config(), data, state);
  auto update = plan.next_update();
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->max_source_length, 12);
  EXPECT_EQ(plan.stage(), 0);
  state.update = 2;  // the trainer counts the applied updates
  update = plan.next_update();
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(plan.stage(), 1);
  EXPECT_EQ(update->max_source_length, 0);
  EXPECT_EQ(state.epoch, 2);  // a fresh epoch: the order is a function of the lengths
  EXPECT_EQ(state.batch_in_epoch, 1);
  EXPECT_EQ(state.curriculum_stage, 1);
}

}  // namespace
}  // namespace pyramidion
