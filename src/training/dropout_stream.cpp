#include "pyramidion/training/dropout_stream.h"

#include <torch/torch.h>

namespace pyramidion {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

int64_t global_micro_batch(int64_t batch, int64_t rank, int64_t world_size) { return batch * world_size + rank; }

uint64_t micro_batch_seed(uint64_t seed, int64_t update, int64_t micro_batch) {
  uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ static_cast<uint64_t>(update));
  return splitmix64(h ^ static_cast<uint64_t>(micro_batch));
}

void seed_micro_batch(uint64_t seed, int64_t update, int64_t micro_batch) {
  torch::manual_seed(micro_batch_seed(seed, update, micro_batch));  // the CPU and every CUDA default generator
}

}  // namespace pyramidion
