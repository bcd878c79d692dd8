#include "pyramidion/training/label_smoothed_cross_entropy.h"

#include <torch/torch.h>

namespace pyramidion {

LabelSmoothedLoss label_smoothed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target, double epsilon,
                                               int64_t ignore_index) {
  // Half-precision logits (autocast) would lose the small probabilities the smoothing term sums over.
  const auto wide = logits.scalar_type() == torch::kHalf || logits.scalar_type() == torch::kBFloat16
                        ? logits.to(torch::kFloat32)
                        : logits;
  const auto lprobs = torch::log_softmax(wide, -1);                     // (batch, len, vocab)
  const auto keep = target.ne(ignore_index);                            // (batch, len)
  const auto safe_target = target.masked_fill(~keep, 0).unsqueeze(-1);  // (batch, len, 1)
  const auto nll = -lprobs.gather(-1, safe_target).squeeze(-1);         // (batch, len)
  const auto smooth = -lprobs.sum(-1);                                  // (batch, len)
  LabelSmoothedLoss out;
  out.nll_loss = nll.masked_fill(~keep, 0).sum();
  const auto smooth_sum = smooth.masked_fill(~keep, 0).sum();
  const int64_t vocab = lprobs.size(-1);
  const double eps_i = vocab > 1 ? epsilon / static_cast<double>(vocab - 1) : 0.0;
  out.loss = (1.0 - epsilon - eps_i) * out.nll_loss + eps_i * smooth_sum;
  out.tokens = keep.sum().item<int64_t>();
  return out;
}

}  // namespace pyramidion
