#pragma once
// One halving round of the successive-halving top-k, forward and backward, per device.
// Internal to src/ops: the public entry point is successive_halving_topk().
#include <torch/types.h>

namespace pyramidion::ops_detail {

// What the forward of one round keeps for its backward.
struct HalvingRound {
  torch::Tensor embeddings;  // (batch, n, dim) the round's input
  torch::Tensor scores;      // (batch, n) the round's input scores (float32 at least)
  torch::Tensor first;       // (batch, n/2) int64 index of the top-half member of each pair
  torch::Tensor second;      // (batch, n/2) int64 index of its partner
  torch::Tensor weight;      // (batch, n/2) softmax weight of `first` (same dtype as scores)
};

struct HalvingOutput {
  torch::Tensor embeddings;  // (batch, n/2, dim)
  torch::Tensor scores;      // (batch, n/2)
};

struct HalvingGrads {
  torch::Tensor embeddings;  // (batch, n, dim)
  torch::Tensor scores;      // (batch, n)
};

// Sorts, pairs and fills round.first/second; then mixes. `round.embeddings`/`round.scores` must be set.
HalvingOutput halving_round_forward(HalvingRound& round, double base, bool flip_right, bool sort_back);

// grad_embeddings (batch, n/2, dim), grad_scores (batch, n/2) -> gradients w.r.t. the round's inputs.
HalvingGrads halving_round_backward(const HalvingRound& round, const torch::Tensor& grad_embeddings,
                                    const torch::Tensor& grad_scores, double base);

}  // namespace pyramidion::ops_detail
