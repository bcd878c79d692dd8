#include "pyramidion/ops/successive_halving_topk_reference.h"

#include <torch/torch.h>

namespace pyramidion {

TopKResult successive_halving_topk_reference(const torch::Tensor& embeddings, const torch::Tensor& scores, int64_t k,
                                             const TopKOptions& options) {
  const int64_t n = embeddings.size(1);
  if (k >= n) return {embeddings, scores};
  const int64_t rounds = successive_halving_rounds(n, k);
  const int64_t padded = k << rounds;
  std::vector<torch::Tensor> out_e, out_s;
  for (int64_t b = 0; b < embeddings.size(0); ++b) {
    torch::Tensor e = embeddings[b];  // (n, dim)
    torch::Tensor s = scores[b];      // (n)
    if (padded > n) {
      e = torch::cat({e, torch::zeros({padded - n, e.size(1)}, e.options())});
      s = torch::cat({s, torch::full({padded - n}, kTopKPaddingScore, s.options())});
    }
    for (int64_t r = 0; r < rounds; ++r) {
      const int64_t half = e.size(0) / 2;
      auto order = std::get<1>(torch::sort(s.detach(), /*stable=*/true, 0, /*descending=*/true));
      auto top = order.narrow(0, 0, half);
      auto bottom = order.narrow(0, half, half);
      if (options.flip_right) bottom = bottom.flip({0});
      if (options.sort_back) {
        auto perm = std::get<1>(torch::sort(top, true, 0, false));
        top = top.index_select(0, perm);
        bottom = bottom.index_select(0, perm);
      }
      auto pair_s = torch::stack({s.index_select(0, top), s.index_select(0, bottom)});  // (2, half)
      auto pair_e = torch::stack({e.index_select(0, top), e.index_select(0, bottom)});  // (2, half, dim)
      auto w = torch::softmax(torch::pow(options.base, pair_s), 0);                     // (2, half)
      e = (pair_e * w.unsqueeze(-1)).sum(0);
      s = (pair_s * w).sum(0);
    }
    out_e.push_back(e);
    out_s.push_back(s);
  }
  return {torch::stack(out_e), torch::stack(out_s)};
}

}  // namespace pyramidion
