// Kernels of one successive-halving round.
// CPU float/double: hand-written loops, one pass per round, parallel over pairs. The pairing is a
// permutation (every input row belongs to exactly one pair), so the backward writes each input row
// once: no scatter-add, no atomics, and the result does not depend on the thread count.
// Other devices and dtypes: the same math composed of LibTorch ops (index_select / lerp / index_copy_).
#include "successive_halving_rounds.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

namespace pyramidion::ops_detail {
namespace {

// Fills round.first / round.second: stable sort by score (descending), top half paired with bottom half.
void make_pairs(HalvingRound& round, bool flip_right, bool sort_back) {
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

bool use_cpu_kernel(const torch::Tensor& embeddings) {
  return embeddings.device().is_cpu() &&
         (embeddings.scalar_type() == torch::kFloat || embeddings.scalar_type() == torch::kDouble);
}

// Row helpers written so that the compiler vectorizes them (restrict, independent partial sums).
template <typename scalar_t>
__attribute__((always_inline)) inline void mix_rows(const scalar_t* __restrict a, const scalar_t* __restrict b, scalar_t wa, scalar_t wb,
                     scalar_t* __restrict out, int64_t dim) {
  for (int64_t d = 0; d < dim; ++d) out[d] = wa * a[d] + wb * b[d];
}

template <typename scalar_t>
__attribute__((always_inline)) inline void scale_row(const scalar_t* __restrict in, scalar_t w, scalar_t* __restrict out, int64_t dim) {
  for (int64_t d = 0; d < dim; ++d) out[d] = w * in[d];
}

// sum_d g[d] * (a[d] - b[d]) with 8 partial sums: a fixed summation order, so results do not depend on
// where a row sits in the batch.
template <typename scalar_t>
__attribute__((always_inline)) inline scalar_t dot_of_difference(const scalar_t* __restrict g, const scalar_t* __restrict a,
                                  const scalar_t* __restrict b, int64_t dim) {
  constexpr int kLanes = 8;
  scalar_t acc[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= dim; d += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += g[d + l] * (a[d + l] - b[d + l]);
  }
  scalar_t tail = 0;
  for (; d < dim; ++d) tail += g[d] * (a[d] - b[d]);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

template <typename scalar_t>
__attribute__((always_inline)) inline HalvingOutput forward_cpu_body(HalvingRound& round, double base) {
  const torch::Tensor& e = round.embeddings;
  const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2), half = n / 2;
  auto out_e = torch::empty({batch, half, dim}, e.options());
  auto out_s = torch::empty({batch, half}, round.scores.options());
  round.weight = torch::empty({batch, half}, round.scores.options());

  const scalar_t* pe = e.data_ptr<scalar_t>();
  const scalar_t* ps = round.scores.data_ptr<scalar_t>();
  const int64_t* pa = round.first.data_ptr<int64_t>();
  const int64_t* pb = round.second.data_ptr<int64_t>();
  scalar_t* poe = out_e.data_ptr<scalar_t>();
  scalar_t* pos = out_s.data_ptr<scalar_t>();
  scalar_t* pw = round.weight.data_ptr<scalar_t>();
  const scalar_t log_base = static_cast<scalar_t>(std::log(base));

  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, batch * half, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t b = p / half;
      const int64_t ia = b * n + pa[p];
      const int64_t ib = b * n + pb[p];
      const scalar_t sa = ps[ia], sb = ps[ib];
      // softmax over the pair of base^s == sigmoid(base^sa - base^sb)
      const scalar_t x = std::exp(sa * log_base) - std::exp(sb * log_base);
      const scalar_t w = scalar_t(1) / (scalar_t(1) + std::exp(-x));
      const scalar_t v = scalar_t(1) - w;
      pw[p] = w;
      pos[p] = w * sa + v * sb;
      mix_rows(pe + ia * dim, pe + ib * dim, w, v, poe + p * dim, dim);
    }
  });
  return {out_e, out_s};
}

template <typename scalar_t>
__attribute__((always_inline)) inline HalvingGrads backward_cpu_body(const HalvingRound& round, const torch::Tensor& grad_e_out,
                          const torch::Tensor& grad_s_out, double base) {
  const torch::Tensor& e = round.embeddings;
  const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2), half = n / 2;
  auto grad_e = torch::empty_like(e);
  auto grad_s = torch::empty_like(round.scores);

  const scalar_t* pe = e.data_ptr<scalar_t>();
  const scalar_t* ps = round.scores.data_ptr<scalar_t>();
  const int64_t* pa = round.first.data_ptr<int64_t>();
  const int64_t* pb = round.second.data_ptr<int64_t>();
  const scalar_t* pw = round.weight.data_ptr<scalar_t>();
  const scalar_t* pgo = grad_e_out.data_ptr<scalar_t>();
  const scalar_t* pgs = grad_s_out.data_ptr<scalar_t>();
  scalar_t* pge = grad_e.data_ptr<scalar_t>();
  scalar_t* pgsi = grad_s.data_ptr<scalar_t>();
  const scalar_t log_base = static_cast<scalar_t>(std::log(base));

  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, batch * half, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t b = p / half;
      const int64_t ia = b * n + pa[p];
      const int64_t ib = b * n + pb[p];
      const scalar_t sa = ps[ia], sb = ps[ib];
      const scalar_t w = pw[p], v = scalar_t(1) - w;
      const scalar_t gs = pgs[p];
      const scalar_t* ea = pe + ia * dim;
      const scalar_t* eb = pe + ib * dim;
      const scalar_t* go = pgo + p * dim;
      scalar_t* ga = pge + ia * dim;
      scalar_t* gb = pge + ib * dim;
      scale_row(go, w, ga, dim);
      scale_row(go, v, gb, dim);
      const scalar_t dot = dot_of_difference(go, ea, eb, dim);
      // d(out)/d(w) · upstream, then through w = sigmoid(base^sa - base^sb).
      const scalar_t grad_w = dot + gs * (sa - sb);
      const scalar_t dx = grad_w * w * v * log_base;
      pgsi[ia] = gs * w + dx * std::exp(sa * log_base);
      pgsi[ib] = gs * v - dx * std::exp(sb * log_base);
    }
  });
  return {grad_e, grad_s};
}

// The row loops compiled twice: for AVX2 (8 floats per instruction; FMA left out so that both builds round
// identically) and for the x86-64 baseline, picked at run time.
#if defined(__x86_64__) && defined(__clang__)
#define PYRAMIDION_AVX2 __attribute__((target("avx2")))
template <typename scalar_t>
PYRAMIDION_AVX2 HalvingOutput forward_cpu_avx2(HalvingRound& round, double base) { return forward_cpu_body<scalar_t>(round, base); }
template <typename scalar_t>
PYRAMIDION_AVX2 HalvingGrads backward_cpu_avx2(const HalvingRound& round, const torch::Tensor& ge, const torch::Tensor& gs, double base) {
  return backward_cpu_body<scalar_t>(round, ge, gs, base);
}
bool has_avx2() {
  static const bool available = __builtin_cpu_supports("avx2");
  return available;
}
#endif

template <typename scalar_t>
HalvingOutput forward_cpu(HalvingRound& round, double base) {
#ifdef PYRAMIDION_AVX2
  if (has_avx2()) return forward_cpu_avx2<scalar_t>(round, base);
#endif
  return forward_cpu_body<scalar_t>(round, base);
}

template <typename scalar_t>
HalvingGrads backward_cpu(const HalvingRound& round, const torch::Tensor& ge, const torch::Tensor& gs, double base) {
#ifdef PYRAMIDION_AVX2
  if (has_avx2()) return backward_cpu_avx2<scalar_t>(round, ge, gs, base);
#endif
  return backward_cpu_body<scalar_t>(round, ge, gs, base);
}

// Row offsets that turn per-example indices (batch, half) into indices of the flattened (batch*n) rows.
torch::Tensor flat_index(const torch::Tensor& index, int64_t n) {
  auto offsets = torch::arange(index.size(0), index.options()).mul_(n).unsqueeze(1);
  return (index + offsets).reshape({-1});
}

HalvingOutput forward_generic(HalvingRound& round, double base) {
  const torch::Tensor& e = round.embeddings;
  const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2), half = n / 2;
  auto fa = flat_index(round.first, n), fb = flat_index(round.second, n);
  auto flat_e = e.reshape({batch * n, dim});
  auto flat_s = round.scores.reshape({batch * n});
  auto ea = flat_e.index_select(0, fa).view({batch, half, dim});
  auto eb = flat_e.index_select(0, fb).view({batch, half, dim});
  auto sa = flat_s.index_select(0, fa).view({batch, half});
  auto sb = flat_s.index_select(0, fb).view({batch, half});
  round.weight = torch::sigmoid(torch::pow(base, sa) - torch::pow(base, sb));
  auto out_e = torch::lerp(eb, ea, round.weight.to(e.scalar_type()).unsqueeze(-1));
  auto out_s = torch::lerp(sb, sa, round.weight);
  return {out_e, out_s};
}

HalvingGrads backward_generic(const HalvingRound& round, const torch::Tensor& grad_e_out,
                              const torch::Tensor& grad_s_out, double base) {
  const torch::Tensor& e = round.embeddings;
  const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2), half = n / 2;
  auto fa = flat_index(round.first, n), fb = flat_index(round.second, n);
  auto flat_e = e.reshape({batch * n, dim});
  auto flat_s = round.scores.reshape({batch * n});
  auto ea = flat_e.index_select(0, fa).view({batch, half, dim});
  auto eb = flat_e.index_select(0, fb).view({batch, half, dim});
  auto sa = flat_s.index_select(0, fa).view({batch, half});
  auto sb = flat_s.index_select(0, fb).view({batch, half});
  const auto& w = round.weight;  // (batch, half), score dtype
  auto w_e = w.to(e.scalar_type()).unsqueeze(-1);

  auto dot = (grad_e_out * (ea - eb)).sum(-1, /*keepdim=*/false, w.scalar_type());
  auto grad_w = dot + grad_s_out * (sa - sb);
  auto dx = grad_w * w * (1 - w) * std::log(base);

  auto grad_e = torch::empty({batch * n, dim}, e.options());
  grad_e.index_copy_(0, fa, (grad_e_out * w_e).reshape({-1, dim}));
  grad_e.index_copy_(0, fb, (grad_e_out * (1 - w_e)).reshape({-1, dim}));
  auto grad_s = torch::empty({batch * n}, round.scores.options());
  grad_s.index_copy_(0, fa, (grad_s_out * w + dx * torch::pow(base, sa)).reshape({-1}));
  grad_s.index_copy_(0, fb, (grad_s_out * (1 - w) - dx * torch::pow(base, sb)).reshape({-1}));
  return {grad_e.view({batch, n, dim}), grad_s.view({batch, n})};
}

}  // namespace

HalvingOutput halving_round_forward(HalvingRound& round, double base, bool flip_right, bool sort_back) {
  make_pairs(round, flip_right, sort_back);
  if (use_cpu_kernel(round.embeddings)) {
    return round.embeddings.scalar_type() == torch::kDouble ? forward_cpu<double>(round, base)
                                                            : forward_cpu<float>(round, base);
  }
  return forward_generic(round, base);
}

HalvingGrads halving_round_backward(const HalvingRound& round, const torch::Tensor& grad_embeddings,
                                    const torch::Tensor& grad_scores, double base) {
  if (use_cpu_kernel(round.embeddings)) {
    auto ge = grad_embeddings.to(round.embeddings.scalar_type()).contiguous();
    auto gs = grad_scores.to(round.scores.scalar_type()).contiguous();
    return round.embeddings.scalar_type() == torch::kDouble ? backward_cpu<double>(round, ge, gs, base)
                                                            : backward_cpu<float>(round, ge, gs, base);
  }
  return backward_generic(round, grad_embeddings, grad_scores.to(round.scores.scalar_type()), base);
}

}  // namespace pyramidion::ops_detail
