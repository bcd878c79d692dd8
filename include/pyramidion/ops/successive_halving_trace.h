#pragma once
// Which inputs the successive-halving top-k mixed into each output, as sparse (index, weight) lists: every
// round pairs elements and mixes each pair, so after R rounds an output is a mix of exactly 2^R inputs and the
// lists of all outputs together hold k * 2^R entries (O(n) memory, where the dense provenance is n * k).
#include <torch/types.h>

#include <cstdint>

#include "pyramidion/ops/successive_halving_topk.h"

namespace pyramidion {

struct TopKTrace {
  // output j = sum_e weight[b, j, e] * input[b, index[b, j, e]]. Entries with index -1 stand for the zero vectors
  // the operator pads with (and masked inputs, which it zeroes): they contribute nothing to the output, and
  // their weight is the mass that went to padding. Every row of weight sums to 1 (to rounding).
  torch::Tensor index;   // (batch, k, span) int64, span = 2^rounds (1 for hard top-k and k >= n)
  torch::Tensor weight;  // (batch, k, span), the scores' dtype
  torch::Tensor scores;  // (batch, k) the operator's output scores
};

// The same pairing and weights as successive_halving_topk(embeddings, scores, k, options, mask) for any
// embeddings of that dtype (same sort, same device kernels, same score dtype), without the embeddings.
// scores (batch, n) floating point in (0, 1]; mask (batch, n) bool or undefined. For k >= n the trace is the
// identity (masked inputs: index -1); for options.hard the selected rows with weight 1.
TopKTrace successive_halving_topk_trace(const torch::Tensor& scores, int64_t k, const TopKOptions& options = {},
                                        const torch::Tensor& mask = {});

// The same trace with weights that carry autograd to `scores` (the pair weights sigmoid(base^sa - base^sb) and the
// mixed scores composed of LibTorch ops; the pairing itself is piecewise constant in the scores): copy attention
// through pooling trains the scorers with it. Weights equal successive_halving_topk_trace's to rounding; the hard
// top-k has no gradient (weights 1).
TopKTrace successive_halving_topk_mixing(const torch::Tensor& scores, int64_t k, const TopKOptions& options = {},
                                         const torch::Tensor& mask = {});

}  // namespace pyramidion
