#pragma once
// How well the soft successive-halving top-k approximates the exact top-k, measured as in
// "Successive Halving Top-k Operator" (Pietruszka et al.): random vectors in [-1, 1]^dim with uniform
// scores; for each of the true top-k vectors, the best cosine similarity to any output vector; averaged.
#include <cstdint>

#include "pyramidion/ops/successive_halving_topk.h"

namespace pyramidion {

struct TopKApproximationOptions {
  int64_t k = 16;
  int64_t dim = 32;
  int64_t trials = 16;  // independent draws, run as one batch
  double base = 20.0;
  bool sort_back = kDefaultSortBack;
  uint64_t seed = 0;
};

// Mean best cosine similarity for n = ratio * k inputs.
double topk_approximation_quality(int64_t ratio, const TopKApproximationOptions& options = {});

}  // namespace pyramidion
