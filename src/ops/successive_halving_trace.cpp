// The provenance of the successive-halving top-k, round by round: each round's pairs come from the same
// make_halving_pairs and its weights from the same device kernel as the operator's forward (run on a
// one-column dummy embedding), so the trace reproduces the operator's mixing to rounding.
#include "pyramidion/ops/successive_halving_trace.h"

#include <torch/torch.h>

#include <limits>
#include <stdexcept>

#include "successive_halving_kernels.h"

namespace pyramidion {
namespace {

// rows (batch, m, span) gathered at index (batch, h) along dim 1 -> (batch, h, span).
torch::Tensor gather_rows(const torch::Tensor& rows, const torch::Tensor& index) {
  return rows.gather(1, index.unsqueeze(-1).expand({index.size(0), index.size(1), rows.size(2)}));
}

}  // namespace

namespace {

// The shared body. differentiable: the pair weights are computed with autograd ops from `scores` (the same
// formula as the generic kernel), so the trace's weights carry gradients to the scores; else the device kernel
// computes them under no_grad, bit for bit as the operator's forward.
TopKTrace trace(const torch::Tensor& scores, int64_t k, const TopKOptions& options, const torch::Tensor& mask,
                bool differentiable) {
  const char* name = differentiable ? "successive_halving_topk_mixing" : "successive_halving_topk_trace";
  if (!scores.defined() || scores.dim() != 2 || !scores.is_floating_point())
    throw std::invalid_argument(std::string(name) + ": scores must be a (batch, n) floating-point tensor");
  if (k < 1) throw std::invalid_argument(std::string(name) + ": k must be >= 1, got " + std::to_string(k));
  if (mask.defined() && (mask.sizes() != scores.sizes() || mask.scalar_type() != torch::kBool))
    throw std::invalid_argument(std::string(name) + ": mask must be a bool tensor shaped like scores");
  const int64_t batch = scores.size(0), n = scores.size(1);
  const auto long_options = scores.options().dtype(torch::kLong);
  torch::Tensor s = differentiable ? scores : scores.detach();
  torch::Tensor index = torch::arange(n, long_options).unsqueeze(0).expand({batch, n}).contiguous();  // (batch, n)
  torch::Tensor real = mask.defined() ? mask.to(s.device()) : torch::ones({batch, n}, long_options.dtype(torch::kBool));
  s = torch::where(real, s, torch::full({}, kTopKPaddingScore, s.options()));
  index = index.masked_fill(real.logical_not(), -1);

  if (k >= n) return {index.unsqueeze(-1), torch::ones({batch, n, 1}, s.options()), s};
  if (options.hard) {
    torch::Tensor key = s.detach().masked_fill(real.logical_not(), -std::numeric_limits<double>::infinity());
    torch::Tensor chosen = std::get<1>(torch::sort(key, /*stable=*/true, 1, /*descending=*/true)).narrow(1, 0, k);
    if (options.sort_back) chosen = std::get<0>(torch::sort(chosen, /*stable=*/true, 1, /*descending=*/false));
    torch::Tensor picked = index.gather(1, chosen);  // (batch, k), -1 where a masked row had to be taken
    return {picked.unsqueeze(-1), torch::ones({batch, k, 1}, s.options()), s.gather(1, chosen)};
  }

  // The operator works on float32 scores at least.
  if (s.scalar_type() != torch::kDouble && s.scalar_type() != torch::kFloat) s = s.to(torch::kFloat);
  const int64_t rounds = successive_halving_rounds(n, k);
  const int64_t padded = k << rounds;
  if (padded > n) {
    s = torch::cat({s, torch::full({batch, padded - n}, kTopKPaddingScore, s.options())}, 1);
    index = torch::cat({index, torch::full({batch, padded - n}, -1, long_options)}, 1);
  }
  torch::Tensor lists = index.unsqueeze(-1);                                  // (batch, m, span)
  torch::Tensor weights = torch::ones({batch, padded, 1}, s.options());       // (batch, m, span)
  const torch::Tensor dummy = torch::zeros({batch, padded, 1}, s.options());  // the kernels' embeddings
  const auto& kernels = ops_detail::halving_kernels_for(dummy);
  for (int64_t r = 0; r < rounds; ++r) {
    ops_detail::HalvingRound round;
    round.embeddings = dummy.narrow(1, 0, s.size(1)).contiguous();
    round.scores = s.detach().contiguous();
    ops_detail::make_halving_pairs(round, options.flip_right, options.sort_back);
    const int64_t half = round.scores.size(1) / 2;
    torch::Tensor w;  // (batch, m/2): the weight of `first`
    if (differentiable) {
      torch::Tensor sa = s.gather(1, round.first), sb = s.gather(1, round.second);  // (batch, m/2)
      w = torch::sigmoid(torch::pow(options.base, sa) - torch::pow(options.base, sb));
      s = torch::lerp(sb, sa, w);
    } else {
      round.weight = torch::empty({batch, half}, round.scores.options());
      ops_detail::HalvingOutput out;  // the kernels write into preallocated outputs
      out.embeddings = torch::empty({batch, half, 1}, round.embeddings.options());
      out.scores = torch::empty({batch, half}, round.scores.options());
      kernels.forward(round, options.base, out);
      w = round.weight;
      s = out.scores;
    }
    w = w.unsqueeze(-1);  // (batch, m/2, 1)
    lists = torch::cat({gather_rows(lists, round.first), gather_rows(lists, round.second)}, 2);
    weights = torch::cat({gather_rows(weights, round.first) * w, gather_rows(weights, round.second) * (1 - w)}, 2);
  }
  // Every row sums to 1 (to rounding): entries with index -1 carry the share of the zero vectors.
  return {lists, weights, differentiable ? s : s.to(scores.scalar_type())};
}

}  // namespace

TopKTrace successive_halving_topk_trace(const torch::Tensor& scores, int64_t k, const TopKOptions& options,
                                        const torch::Tensor& mask) {
  torch::NoGradGuard no_grad;
  return trace(scores, k, options, mask, /*differentiable=*/false);
}

TopKTrace successive_halving_topk_mixing(const torch::Tensor& scores, int64_t k, const TopKOptions& options,
                                         const torch::Tensor& mask) {
  return trace(scores, k, options, mask, /*differentiable=*/true);
}

}  // namespace pyramidion
