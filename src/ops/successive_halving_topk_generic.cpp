// The successive-halving round composed of LibTorch ops (sort / index_select / lerp / index_copy_): runs on
// every device and dtype. CUDA tensors take it until a fused kernel is registered, and so do the dtypes the
// CPU kernels do not take (bfloat16, half). Like the CPU kernels, the backward writes each input row once.
#include <torch/torch.h>

#include <cmath>

#include "successive_halving_kernels.h"

namespace pyramidion::ops_detail {

void make_halving_pairs(HalvingRound& round, bool flip_right, bool sort_back) {
  const int64_t n = round.scores.size(1);
  const int64_t half = n / 2;
  torch::Tensor order = std::get<1>(torch::sort(round.scores, /*stable=*/true, /*dim=*/1, /*descending=*/true));
  torch::Tensor first = order.narrow(1, 0, half);      // (batch, half)
  torch::Tensor second = order.narrow(1, half, half);  // (batch, half)
  if (flip_right) second = second.flip({1});
  if (sort_back) {
    // Indices are distinct, so the order of ties does not arise.
    torch::Tensor perm = std::get<1>(torch::sort(first, /*stable=*/true, /*dim=*/1, /*descending=*/false));
    first = first.gather(1, perm);
    second = second.gather(1, perm);
  }
  round.first = first.contiguous();
  round.second = second.contiguous();
}

namespace {

// index (batch, half) of rows per example -> (batch * half) indices into the flattened (batch * n) rows.
torch::Tensor flat_index(const torch::Tensor& index, int64_t n) {
  auto offsets = torch::arange(index.size(0), index.options()).mul_(n).unsqueeze(1);  // (batch, 1)
  return (index + offsets).reshape({-1});
}

// The two members of every pair, gathered: embeddings (batch, half, dim), scores (batch, half).
struct Pairs {
  torch::Tensor flat_first, flat_second;  // (batch * half)
  torch::Tensor ea, eb;                   // (batch, half, dim)
  torch::Tensor sa, sb;                   // (batch, half)
};

Pairs gather_pairs(const HalvingRound& round) {
  const torch::Tensor& e = round.embeddings;
  const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2), half = n / 2;
  Pairs p;
  p.flat_first = flat_index(round.first, n);
  p.flat_second = flat_index(round.second, n);
  auto flat_e = e.reshape({batch * n, dim});
  auto flat_s = round.scores.reshape({batch * n});
  p.ea = flat_e.index_select(0, p.flat_first).view({batch, half, dim});
  p.eb = flat_e.index_select(0, p.flat_second).view({batch, half, dim});
  p.sa = flat_s.index_select(0, p.flat_first).view({batch, half});
  p.sb = flat_s.index_select(0, p.flat_second).view({batch, half});
  return p;
}

bool supports(torch::ScalarType) { return true; }

void forward(HalvingRound& round, double base, const HalvingOutput& out) {
  const Pairs p = gather_pairs(round);
  // softmax over the pair of base^s == sigmoid(base^sa - base^sb)
  round.weight.copy_(torch::sigmoid(torch::pow(base, p.sa) - torch::pow(base, p.sb)));  // (batch, half)
  out.embeddings.copy_(torch::lerp(p.eb, p.ea, round.weight.to(round.embeddings.scalar_type()).unsqueeze(-1)));
  out.scores.copy_(torch::lerp(p.sb, p.sa, round.weight));
}

// The pairs are gathered (copied) before anything is written, so grads.embeddings may be round.embeddings.
void backward(const HalvingRound& round, const torch::Tensor& grad_e_out, const torch::Tensor& grad_scores, double base,
              const HalvingGrads& grads) {
  const torch::Tensor& e = round.embeddings;
  const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2);
  const Pairs p = gather_pairs(round);
  const auto& w = round.weight;  // (batch, half), score dtype
  auto grad_s_out = grad_scores.to(w.scalar_type());
  auto w_e = w.to(e.scalar_type()).unsqueeze(-1);  // (batch, half, 1)

  // d(out)/d(w) · upstream, then through w = sigmoid(base^sa - base^sb).
  auto dot = (grad_e_out * (p.ea - p.eb)).sum(-1, /*keepdim=*/false, w.scalar_type());
  auto grad_w = dot + grad_s_out * (p.sa - p.sb);
  auto dx = grad_w * w * (1 - w) * std::log(base);

  auto grad_e = grads.embeddings.view({batch * n, dim});
  grad_e.index_copy_(0, p.flat_first, (grad_e_out * w_e).reshape({-1, dim}));
  grad_e.index_copy_(0, p.flat_second, (grad_e_out * (1 - w_e)).reshape({-1, dim}));
  auto grad_s = grads.scores.view({batch * n});
  grad_s.index_copy_(0, p.flat_first, (grad_s_out * w + dx * torch::pow(base, p.sa)).reshape({-1}));
  grad_s.index_copy_(0, p.flat_second, (grad_s_out * (1 - w) - dx * torch::pow(base, p.sb)).reshape({-1}));
}

}  // namespace

const HalvingKernels& generic_halving_kernels() {
  static const HalvingKernels kernels{"generic", &supports, &forward, &backward};
  return kernels;
}

}  // namespace pyramidion::ops_detail
