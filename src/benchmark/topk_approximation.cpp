#include "pyramidion/benchmark/topk_approximation.h"

#include <torch/torch.h>

#include "pyramidion/ops/successive_halving_topk.h"

namespace pyramidion {

double topk_approximation_quality(int64_t ratio, const TopKApproximationOptions& options) {
  torch::NoGradGuard no_grad;
  auto generator = at::detail::createCPUGenerator(options.seed);
  const int64_t n = ratio * options.k, k = options.k, dim = options.dim, trials = options.trials;
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  auto embeddings = torch::rand({trials, n, dim}, generator, f64) * 2 - 1;  // (trials, n, dim)
  auto scores = torch::rand({trials, n}, generator, f64);                   // (trials, n)
  TopKOptions topk;
  topk.base = options.base;
  topk.sort_back = options.sort_back;
  auto soft = successive_halving_topk(embeddings, scores, k, topk).embeddings;  // (trials, k, dim)
  auto true_index = std::get<1>(scores.topk(k, 1));                             // (trials, k)
  auto truth = embeddings.gather(1, true_index.unsqueeze(-1).expand({trials, k, dim}));
  auto unit = [](const torch::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-12); };
  auto cosine = torch::bmm(unit(truth), unit(soft).transpose(1, 2));  // (trials, k true, k soft)
  return std::get<0>(cosine.max(2)).mean().item<double>();
}

}  // namespace pyramidion
