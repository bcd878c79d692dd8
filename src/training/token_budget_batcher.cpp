#include "pyramidion/training/token_budget_batcher.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace pyramidion {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

template <typename T>
void shuffle_with(std::vector<T>& values, uint64_t seed) {
  uint64_t state = seed;
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(splitmix64(state) % i);
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace

void deterministic_shuffle(std::vector<int64_t>& values, uint64_t seed) { shuffle_with(values, seed); }

int64_t padded_batch_tokens(const ExampleBatch& batch, const std::vector<int64_t>& source_lengths,
                            const std::vector<int64_t>& target_lengths) {
  int64_t longest_source = 0, longest_target = 0;
  for (int64_t i : batch) {
    longest_source = std::max(longest_source, source_lengths[i]);
    longest_target = std::max(longest_target, target_lengths[i]);
  }
  return static_cast<int64_t>(batch.size()) * (longest_source + longest_target);
}

std::vector<ExampleBatch> make_token_budget_batches(const std::vector<int64_t>& source_lengths,
                                                    const std::vector<int64_t>& target_lengths,
                                                    const BatchingOptions& options, int64_t epoch) {
  if (source_lengths.size() != target_lengths.size())
    throw std::invalid_argument("make_token_budget_batches: source and target length counts differ");
  if (options.max_tokens < 1 || options.sort_window < 1)
    throw std::invalid_argument("make_token_budget_batches: max_tokens and sort_window must be >= 1");
  const int64_t n = static_cast<int64_t>(source_lengths.size());
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Different streams for the example order and the batch order of each epoch.
  const uint64_t epoch_seed = options.seed * 0x100000001B3ULL + static_cast<uint64_t>(epoch) * 0x9E3779B97F4A7C15ULL;
  if (options.shuffle) shuffle_with(order, epoch_seed);
  const int64_t window = options.shuffle ? options.sort_window : std::max<int64_t>(n, 1);

  std::vector<ExampleBatch> batches;
  for (int64_t start = 0; start < n; start += window) {
    const auto first = order.begin() + start, last = order.begin() + std::min(n, start + window);
    std::stable_sort(first, last, [&](int64_t a, int64_t b) {
      if (source_lengths[a] != source_lengths[b]) return source_lengths[a] < source_lengths[b];
      return target_lengths[a] < target_lengths[b];
    });
    ExampleBatch batch;
    int64_t longest_source = 0, longest_target = 0;
    for (auto it = first; it != last; ++it) {
      const int64_t s = std::max(longest_source, source_lengths[*it]);
      const int64_t t = std::max(longest_target, target_lengths[*it]);
      if (!batch.empty() && static_cast<int64_t>(batch.size() + 1) * (s + t) > options.max_tokens) {
        batches.push_back(std::move(batch));
        batch.clear();
        longest_source = source_lengths[*it];
        longest_target = target_lengths[*it];
      } else {
        longest_source = s;
        longest_target = t;
      }
      batch.push_back(*it);
    }
    if (!batch.empty()) batches.push_back(std::move(batch));
  }
  if (options.shuffle) shuffle_with(batches, epoch_seed ^ 0xD1B54A32D192ED03ULL);
  return batches;
}

std::vector<ExampleBatch> shard_batches(const std::vector<ExampleBatch>& batches, int64_t rank, int64_t world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw std::invalid_argument("shard_batches: rank " + std::to_string(rank) + " is outside 0.." +
                                std::to_string(world_size - 1));
  std::vector<ExampleBatch> shard;
  for (size_t i = static_cast<size_t>(rank); i < batches.size(); i += static_cast<size_t>(world_size))
    shard.push_back(batches[i]);
  return shard;
}

std::vector<ExampleBatch> equal_shard_batches(const std::vector<ExampleBatch>& batches, int64_t rank,
                                              int64_t world_size) {
  const size_t ranks = static_cast<size_t>(std::max<int64_t>(world_size, 1));
  if (batches.size() < ranks)
    throw std::invalid_argument("the training set makes " + std::to_string(batches.size()) +
                                " batches per epoch, fewer than the " + std::to_string(world_size) +
                                " processes (lower max_tokens or use fewer processes)");
  const std::vector<ExampleBatch> used(batches.begin(),
                                       batches.end() - static_cast<std::ptrdiff_t>(batches.size() % ranks));
  return shard_batches(used, rank, world_size);
}

}  // namespace pyramidion
