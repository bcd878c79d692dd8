// CPU kernels of one successive-halving round, float and double: hand-written loops, one pass per round,
// parallel over pairs. The pairing is a permutation (every input row belongs to exactly one pair), so the
// backward writes each input row once: no scatter-add, no atomics, and the result does not depend on the
// thread count.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "successive_halving_kernels.h"

// The per-pair loops are compiled twice on x86-64, for AVX2 (8 floats per instruction) and for the baseline,
// and picked at run time. Function-level target attributes and __builtin_cpu_supports work in g++ and clang
// alike, so no compiler flag is needed. FMA is left out on purpose: contracting a*b + c into one rounding
// would make AVX2 and baseline machines disagree in the last bit.
#if defined(__x86_64__) && defined(__GNUC__)  // g++ and clang (clang defines __GNUC__ too)
#define PYRAMIDION_HALVING_AVX2 1
#define PYRAMIDION_TARGET_AVX2 __attribute__((target("avx2")))
#endif

namespace pyramidion::ops_detail {
namespace {

#define PYRAMIDION_INLINE __attribute__((always_inline)) inline

// Row helpers written so that the compiler vectorizes them (restrict, independent partial sums).
template <typename scalar_t>
PYRAMIDION_INLINE void mix_rows(const scalar_t* __restrict a, const scalar_t* __restrict b, scalar_t wa, scalar_t wb,
                                scalar_t* __restrict out, int64_t dim) {
  for (int64_t d = 0; d < dim; ++d) out[d] = wa * a[d] + wb * b[d];
}

template <typename scalar_t>
PYRAMIDION_INLINE void scale_row(const scalar_t* __restrict in, scalar_t w, scalar_t* __restrict out, int64_t dim) {
  for (int64_t d = 0; d < dim; ++d) out[d] = w * in[d];
}

// sum_d g[d] * (a[d] - b[d]) with 8 partial sums: a fixed summation order, so results do not depend on
// where a row sits in the batch.
template <typename scalar_t>
PYRAMIDION_INLINE scalar_t dot_of_difference(const scalar_t* __restrict g, const scalar_t* __restrict a,
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

// Raw pointers of one round; pairs are numbered p = b * half + i over the flattened batch.
template <typename scalar_t>
struct ForwardArgs {
  const scalar_t* embeddings;  // (batch, n, dim)
  const scalar_t* scores;      // (batch, n)
  const int64_t* first;        // (batch, half)
  const int64_t* second;       // (batch, half)
  scalar_t* out_embeddings;    // (batch, half, dim)
  scalar_t* out_scores;        // (batch, half)
  scalar_t* weight;            // (batch, half)
  int64_t n, half, dim;
  scalar_t log_base;
};

template <typename scalar_t>
struct BackwardArgs {
  const scalar_t* embeddings;  // (batch, n, dim); may be grad_embeddings itself (read before written)
  const scalar_t* scores;      // (batch, n)
  const int64_t* first;        // (batch, half)
  const int64_t* second;       // (batch, half)
  const scalar_t* weight;      // (batch, half)
  const scalar_t* grad_out_e;  // (batch, half, dim)
  const scalar_t* grad_out_s;  // (batch, half)
  scalar_t* grad_embeddings;   // (batch, n, dim)
  scalar_t* grad_scores;       // (batch, n)
  int64_t n, half, dim;
  scalar_t log_base;
};

template <typename scalar_t>
PYRAMIDION_INLINE void forward_pairs_body(const ForwardArgs<scalar_t>& a, int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    const int64_t b = p / a.half;
    const int64_t ia = b * a.n + a.first[p];
    const int64_t ib = b * a.n + a.second[p];
    const scalar_t sa = a.scores[ia], sb = a.scores[ib];
    // softmax over the pair of base^s == sigmoid(base^sa - base^sb)
    const scalar_t x = std::exp(sa * a.log_base) - std::exp(sb * a.log_base);
    const scalar_t w = scalar_t(1) / (scalar_t(1) + std::exp(-x));
    const scalar_t v = scalar_t(1) - w;
    a.weight[p] = w;
    a.out_scores[p] = w * sa + v * sb;
    mix_rows(a.embeddings + ia * a.dim, a.embeddings + ib * a.dim, w, v, a.out_embeddings + p * a.dim, a.dim);
  }
}

template <typename scalar_t>
PYRAMIDION_INLINE void backward_pairs_body(const BackwardArgs<scalar_t>& a, int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    const int64_t b = p / a.half;
    const int64_t ia = b * a.n + a.first[p];
    const int64_t ib = b * a.n + a.second[p];
    const scalar_t sa = a.scores[ia], sb = a.scores[ib];
    const scalar_t w = a.weight[p], v = scalar_t(1) - w;
    const scalar_t gs = a.grad_out_s[p];
    const scalar_t* ea = a.embeddings + ia * a.dim;
    const scalar_t* eb = a.embeddings + ib * a.dim;
    const scalar_t* go = a.grad_out_e + p * a.dim;
    // Read the pair's input rows before writing their gradients: the op may pass the input as the output.
    const scalar_t dot = dot_of_difference(go, ea, eb, a.dim);
    scale_row(go, w, a.grad_embeddings + ia * a.dim, a.dim);
    scale_row(go, v, a.grad_embeddings + ib * a.dim, a.dim);
    // d(out)/d(w) · upstream, then through w = sigmoid(base^sa - base^sb).
    const scalar_t grad_w = dot + gs * (sa - sb);
    const scalar_t dx = grad_w * w * v * a.log_base;
    a.grad_scores[ia] = gs * w + dx * std::exp(sa * a.log_base);
    a.grad_scores[ib] = gs * v - dx * std::exp(sb * a.log_base);
  }
}

// The loops themselves sit in these functions (not in the parallel_for lambda, which would be compiled for
// the baseline whatever its caller's target), so the AVX2 copies really are AVX2.
template <typename scalar_t>
void forward_pairs(const ForwardArgs<scalar_t>& a, int64_t begin, int64_t end) {
  forward_pairs_body(a, begin, end);
}
template <typename scalar_t>
void backward_pairs(const BackwardArgs<scalar_t>& a, int64_t begin, int64_t end) {
  backward_pairs_body(a, begin, end);
}

#ifdef PYRAMIDION_HALVING_AVX2
template <typename scalar_t>
PYRAMIDION_TARGET_AVX2 void forward_pairs_avx2(const ForwardArgs<scalar_t>& a, int64_t begin, int64_t end) {
  forward_pairs_body(a, begin, end);
}
template <typename scalar_t>
PYRAMIDION_TARGET_AVX2 void backward_pairs_avx2(const BackwardArgs<scalar_t>& a, int64_t begin, int64_t end) {
  backward_pairs_body(a, begin, end);
}
#endif

bool has_avx2() {
#ifdef PYRAMIDION_HALVING_AVX2
  static const bool available = [] {
    __builtin_cpu_init();  // g++ needs it when called before its constructors ran; harmless otherwise
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return available;
#else
  return false;
#endif
}

template <typename scalar_t>
void forward_cpu(HalvingRound& round, double base, const HalvingOutput& out) {
  const torch::Tensor& e = round.embeddings;
  const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2), half = n / 2;
  const ForwardArgs<scalar_t> args{e.data_ptr<scalar_t>(),
                                   round.scores.data_ptr<scalar_t>(),
                                   round.first.data_ptr<int64_t>(),
                                   round.second.data_ptr<int64_t>(),
                                   out.embeddings.data_ptr<scalar_t>(),
                                   out.scores.data_ptr<scalar_t>(),
                                   round.weight.data_ptr<scalar_t>(),
                                   n,
                                   half,
                                   dim,
                                   static_cast<scalar_t>(std::log(base))};
  const bool avx2 = has_avx2();
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, batch * half, grain, [&](int64_t begin, int64_t end) {
#ifdef PYRAMIDION_HALVING_AVX2
    if (avx2) return forward_pairs_avx2(args, begin, end);
#endif
    forward_pairs(args, begin, end);
  });
  (void)avx2;
}

template <typename scalar_t>
void backward_cpu(const HalvingRound& round, const torch::Tensor& grad_e_out, const torch::Tensor& grad_s_out,
                  double base, const HalvingGrads& grads) {
  const torch::Tensor& e = round.embeddings;
  const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2), half = n / 2;
  const BackwardArgs<scalar_t> args{e.data_ptr<scalar_t>(),
                                    round.scores.data_ptr<scalar_t>(),
                                    round.first.data_ptr<int64_t>(),
                                    round.second.data_ptr<int64_t>(),
                                    round.weight.data_ptr<scalar_t>(),
                                    grad_e_out.data_ptr<scalar_t>(),
                                    grad_s_out.data_ptr<scalar_t>(),
                                    grads.embeddings.data_ptr<scalar_t>(),
                                    grads.scores.data_ptr<scalar_t>(),
                                    n,
                                    half,
                                    dim,
                                    static_cast<scalar_t>(std::log(base))};
  const bool avx2 = has_avx2();
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, batch * half, grain, [&](int64_t begin, int64_t end) {
#ifdef PYRAMIDION_HALVING_AVX2
    if (avx2) return backward_pairs_avx2(args, begin, end);
#endif
    backward_pairs(args, begin, end);
  });
  (void)avx2;
}

bool supports(torch::ScalarType dtype) { return dtype == torch::kFloat || dtype == torch::kDouble; }

void forward(HalvingRound& round, double base, const HalvingOutput& out) {
  round.embeddings.scalar_type() == torch::kDouble ? forward_cpu<double>(round, base, out)
                                                   : forward_cpu<float>(round, base, out);
}

// The loops read raw memory: upstream gradients may come in another dtype or strided.
void backward(const HalvingRound& round, const torch::Tensor& grad_embeddings, const torch::Tensor& grad_scores,
              double base, const HalvingGrads& grads) {
  auto ge = grad_embeddings.to(round.embeddings.scalar_type()).contiguous();  // (batch, n/2, dim)
  auto gs = grad_scores.to(round.scores.scalar_type()).contiguous();          // (batch, n/2)
  round.embeddings.scalar_type() == torch::kDouble ? backward_cpu<double>(round, ge, gs, base, grads)
                                                   : backward_cpu<float>(round, ge, gs, base, grads);
}

}  // namespace

const HalvingKernels& cpu_halving_kernels() {
  static const HalvingKernels kernels{"cpu", &supports, &forward, &backward};
  return kernels;
}

}  // namespace pyramidion::ops_detail
