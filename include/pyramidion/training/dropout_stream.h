#pragma once
// The dropout stream of one micro-batch. Before each accumulated batch's forward, UpdateStep reseeds the default
// generators (CPU and CUDA) from (training.seed, update, micro-batch index in the update's global order), so the
// masks an example gets depend only on where it sits in the global batch order, not on which process runs it or
// on what ran before: N processes with update_freq k draw the masks of one process with update_freq N * k, and a
// resumed run those of the uninterrupted one.
//
//   rank r of N, its j-th batch of update u   ->   micro-batch j * N + r of update u (the global order)
#include <cstdint>

namespace pyramidion {

// The global index of rank `rank`'s `batch`-th accumulated batch of an update (rank r of N takes the update's
// global batches r, r + N, ...).
int64_t global_micro_batch(int64_t batch, int64_t rank, int64_t world_size);

// A well-mixed seed for (seed, update, micro_batch) (splitmix64 steps; distinct triples give unrelated streams).
uint64_t micro_batch_seed(uint64_t seed, int64_t update, int64_t micro_batch);

// Reseeds the default CPU and CUDA generators with micro_batch_seed(seed, update, micro_batch).
void seed_micro_batch(uint64_t seed, int64_t update, int64_t micro_batch);

}  // namespace pyramidion
