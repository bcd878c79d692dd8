#pragma once
// Token-budget batching with length bucketing. Pure functions of (lengths, options, epoch): the same inputs
// give the same batches on every run and machine, so a resumed run only needs (epoch, position).
//
// Per epoch: shuffle the example order (seed, epoch), cut it into windows of `sort_window` examples, sort each
// window by (source length, target length), pack consecutive examples while
//   examples * (longest source + longest target) <= max_tokens      (padding counted)
// then shuffle the batches. An example longer than the budget on its own gets a batch of its own.
#include <cstdint>
#include <vector>

namespace pyramidion {

struct BatchingOptions {
  int64_t max_tokens = 16384;
  int64_t sort_window = 16384;  // examples; >= the dataset size = sort globally
  uint64_t seed = 1;
  bool shuffle = true;  // false: no shuffling at all (validation): sorted order, batches in order
};

using ExampleBatch = std::vector<int64_t>;  // example indices

// lengths: one entry per example (source_lengths[i] + target_lengths[i] need not fit in max_tokens).
std::vector<ExampleBatch> make_token_budget_batches(const std::vector<int64_t>& source_lengths,
                                                    const std::vector<int64_t>& target_lengths,
                                                    const BatchingOptions& options, int64_t epoch);

// Tokens a batch occupies once padded: size * (max source + max target).
int64_t padded_batch_tokens(const ExampleBatch& batch, const std::vector<int64_t>& source_lengths,
                            const std::vector<int64_t>& target_lengths);

// Data-parallel sharding: rank r of world_size gets batches r, r + world_size, r + 2 * world_size, ...
// (a partition of the batches; ranks differ by at most one batch).
std::vector<ExampleBatch> shard_batches(const std::vector<ExampleBatch>& batches, int64_t rank, int64_t world_size);
// The same with equal shards: the last (batches.size() % world_size) batches of the order are left out, so every
// rank runs the same number of updates per epoch (none waits at an epoch's end for one that has no batch left).
// Rank r's j-th batch is batch j * world_size + r: the updates of N ranks hold the batches that one process with
// N times the update_freq takes as consecutive micro-batches. Throws when there are fewer batches than ranks.
std::vector<ExampleBatch> equal_shard_batches(const std::vector<ExampleBatch>& batches, int64_t rank,
                                              int64_t world_size);

// A deterministic shuffle (Fisher-Yates over SplitMix64), identical across standard libraries.
void deterministic_shuffle(std::vector<int64_t>& values, uint64_t seed);

}  // namespace pyramidion
