#pragma once
// fairseq's label_smoothed_nll_loss (criterions/label_smoothed_cross_entropy.py), summed over tokens:
//   nll    = -log p(target)                  smooth = -sum_v log p(v)
//   eps_i  = epsilon / (vocab - 1)
//   loss   = (1 - epsilon - eps_i) * nll + eps_i * smooth
// Positions whose target is `ignore_index` (padding) contribute nothing to either sum.
#include <torch/types.h>

namespace pyramidion {

struct LabelSmoothedLoss {
  torch::Tensor loss;      // () sum over tokens, float32 or wider: what is minimized
  torch::Tensor nll_loss;  // () sum over tokens of -log p(target), for perplexity
  int64_t tokens = 0;      // target tokens counted (not ignore_index)
};

// logits (batch, len, vocab) any floating type (log-softmax runs in float32 or wider), target (batch, len) int64.
LabelSmoothedLoss label_smoothed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target, double epsilon,
                                               int64_t ignore_index);

}  // namespace pyramidion
