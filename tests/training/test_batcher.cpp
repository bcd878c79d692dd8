#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "../data/temp_dir.h"
#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/training/batch.h"
#include "pyramidion/training/token_budget_batcher.h"

namespace pyramidion {
namespace {

struct Lengths {
  std::vector<int64_t> source, target;
};

Lengths random_lengths(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Lengths l;
  for (int64_t i = 0; i < n; ++i) {
    l.source.push_back(std::uniform_int_distribution<int64_t>(5, 500)(rng));
    l.target.push_back(std::uniform_int_distribution<int64_t>(2, 80)(rng));
  }
  return l;
}

TEST(TokenBudgetBatcher, RespectsTheBudgetIncludingPadding) {
  const auto l = random_lengths(1000, 1);
  BatchingOptions options;
  options.max_tokens = 2048;
  options.sort_window = 256;
  const auto batches = make_token_budget_batches(l.source, l.target, options, 1);
  for (const auto& batch : batches) {
    ASSERT_FALSE(batch.empty());
    EXPECT_LE(padded_batch_tokens(batch, l.source, l.target), options.max_tokens);
  }
  // Sorting within windows packs tightly: padding stays a small share.
  int64_t padded = 0, real = 0;
  for (const auto& batch : batches) padded += padded_batch_tokens(batch, l.source, l.target);
  for (size_t i = 0; i < l.source.size(); ++i) real += l.source[i] + l.target[i];
  EXPECT_LT(static_cast<double>(padded) / static_cast<double>(real), 1.3);
}

TEST(TokenBudgetBatcher, EveryExampleExactlyOncePerEpochAndOversizedAlone) {
  auto l = random_lengths(500, 2);
  l.source[17] = 5000;  // longer than the budget on its own
  BatchingOptions options;
  options.max_tokens = 1500;
  options.sort_window = 100;
  for (int64_t epoch : {1, 2, 3}) {
    const auto batches = make_token_budget_batches(l.source, l.target, options, epoch);
    std::vector<int> seen(l.source.size(), 0);
    for (const auto& batch : batches) {
      for (int64_t i : batch) ++seen[static_cast<size_t>(i)];
      if (std::find(batch.begin(), batch.end(), 17) != batch.end()) EXPECT_EQ(batch.size(), 1u);
    }
    for (int count : seen) ASSERT_EQ(count, 1);
  }
}

TEST(TokenBudgetBatcher, SeededAndReproducible) {
  const auto l = random_lengths(300, 3);
  BatchingOptions options;
  options.max_tokens = 3000;
  options.sort_window = 64;
  options.seed = 11;
  const auto a = make_token_budget_batches(l.source, l.target, options, 4);
  EXPECT_EQ(a, make_token_budget_batches(l.source, l.target, options, 4));
  EXPECT_NE(a, make_token_budget_batches(l.source, l.target, options, 5));
  options.seed = 12;
  EXPECT_NE(a, make_token_budget_batches(l.source, l.target, options, 4));
}

TEST(TokenBudgetBatcher, WithoutShuffleBatchesFollowLengthOrder) {
  const auto l = random_lengths(200, 4);
  BatchingOptions options;
  options.max_tokens = 4000;
  options.shuffle = false;
  const auto batches = make_token_budget_batches(l.source, l.target, options, 9);
  EXPECT_EQ(batches, make_token_budget_batches(l.source, l.target, options, 1));  // epoch-independent
  int64_t previous = 0;
  for (const auto& batch : batches)
    for (int64_t i : batch) {
      EXPECT_GE(l.source[static_cast<size_t>(i)], previous);
      previous = l.source[static_cast<size_t>(i)];
    }
}

TEST(TokenBudgetBatcher, ShardingPartitionsTheBatches) {
  const auto l = random_lengths(400, 5);
  const auto batches = make_token_budget_batches(l.source, l.target, BatchingOptions{2048, 128, 1, true}, 1);
  for (int64_t world : {1, 2, 3, 8}) {
    std::multiset<std::vector<int64_t>> all(batches.begin(), batches.end()), merged;
    size_t smallest = batches.size(), largest = 0;
    for (int64_t rank = 0; rank < world; ++rank) {
      const auto shard = shard_batches(batches, rank, world);
      for (size_t j = 0; j < shard.size(); ++j) EXPECT_EQ(shard[j], batches[j * world + rank]);
      merged.insert(shard.begin(), shard.end());
      smallest = std::min(smallest, shard.size());
      largest = std::max(largest, shard.size());
    }
    EXPECT_EQ(merged, all) << "world " << world;
    EXPECT_LE(largest - smallest, 1u);
  }
  EXPECT_THROW(shard_batches(batches, 2, 2), std::invalid_argument);
}

// Sources and targets longer than the model's positions are cut, and both still end with their EOS (a model
// trained on cut targets without it would never learn to stop); shorter ones are copied as they are.
TEST(CollateBatch, CutSequencesKeepTheirEos) {
  testing::TempDir dir;
  const std::string path = dir.file("train.bin");
  {
    data::BinaryDatasetWriter writer(path, 50);
    writer.add("long", {10, 11, 12, 13, 14, 15, 3}, {20, 21, 22, 23, 24, 3});
    writer.add("short", {10, 11, 3}, {20, 3});
    writer.finish();
  }
  data::BinaryDataset dataset(path);
  ModelConfig config;
  config.vocab_size = 50;
  config.max_source_positions = 4;
  config.max_target_positions = 3;
  Batch batch = collate_batch(dataset, {0, 1}, config);
  EXPECT_EQ(std::vector<int64_t>(batch.source[0].data_ptr<int64_t>(), batch.source[0].data_ptr<int64_t>() + 4),
            (std::vector<int64_t>{10, 11, 12, 3}));
  auto row = [](const torch::Tensor& t, int64_t r) {
    torch::Tensor c = t[r].contiguous();
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  };
  EXPECT_EQ(row(batch.target_out, 0), (std::vector<int64_t>{20, 21, 3}));
  EXPECT_EQ(row(batch.target_in, 0), (std::vector<int64_t>{config.bos_id, 20, 21}));
  EXPECT_EQ(row(batch.target_out, 1), (std::vector<int64_t>{20, 3, config.pad_id}));
  EXPECT_EQ(row(batch.target_in, 1), (std::vector<int64_t>{config.bos_id, 20, config.pad_id}));
}

}  // namespace
}  // namespace pyramidion
