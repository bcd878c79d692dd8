#include "pyramidion/nn/vocabulary_projection.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>

// Compiled for AVX2 and for the baseline, picked at run time (as the top-k kernels, successive_halving_topk_cpu.cpp);
// no FMA, so both copies give the same bits.
#if defined(__x86_64__) && defined(__GNUC__)
#define PYRAMIDION_PROJECTION_AVX2 1
#include <immintrin.h>
#endif

namespace pyramidion {
namespace {

#define PYRAMIDION_INLINE __attribute__((always_inline)) inline

// Every output is sum_d w[d] * h[d] with 8 partial sums (lane l adds the products d = l, l + 8, ...) combined in
// a fixed order: the same bits whichever other rows a call holds and whichever copy of the kernel runs.
PYRAMIDION_INLINE float combine_lanes(const float* acc, float tail) {
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

struct ProjectionArgs {
  const float* hidden;  // (rows, dim)
  const float* weight;  // (vocab, dim)
  float* out;           // (rows, vocab)
  int64_t rows, vocab, dim;
};

// sum_d w[d] * h[d] in that order, one output at a time (as before the blocked AVX2 copy): the copy for machines
// without AVX2. Written as V x R accumulators for the compiler to vectorise, it was not, and ran 7x slower.
PYRAMIDION_INLINE float dot8(const float* __restrict w, const float* __restrict h, int64_t dim) {
  constexpr int kLanes = 8;
  float acc[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= dim; d += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += w[d + l] * h[d + l];
  float tail = 0;
  for (; d < dim; ++d) tail += w[d] * h[d];
  return combine_lanes(acc, tail);
}

// Block<V, R>::run(args, v0, r0) writes out[r0 .. r0+R, v0 .. v0+V].
template <int V, int R>
struct PortableBlock {
  static void run(const ProjectionArgs& a, int64_t v0, int64_t r0) {
    for (int i = 0; i < V; ++i)
      for (int j = 0; j < R; ++j)
        a.out[(r0 + j) * a.vocab + v0 + i] = dot8(a.weight + (v0 + i) * a.dim, a.hidden + (r0 + j) * a.dim, a.dim);
  }
};

#ifdef PYRAMIDION_PROJECTION_AVX2
// V matrix rows x R hidden rows at once, V * R independent accumulators, one 8-lane register per output with
// dot8's order (multiply then add, never fused). Several outputs at once hide the latency of an output's chain of
// additions (one chain alone waits ~4 cycles per 8 products: slower than the BLAS product at 8 rows).
template <int V, int R>
struct Avx2Block {
  __attribute__((target("avx2"))) static void run(const ProjectionArgs& a, int64_t v0, int64_t r0) {
    __m256 acc[V][R];
    for (int i = 0; i < V; ++i)
      for (int j = 0; j < R; ++j) acc[i][j] = _mm256_setzero_ps();
    const float* w = a.weight + v0 * a.dim;
    const float* h = a.hidden + r0 * a.dim;
    int64_t d = 0;
    for (; d + 8 <= a.dim; d += 8) {
      for (int i = 0; i < V; ++i) {
        const __m256 wv = _mm256_loadu_ps(w + i * a.dim + d);
        for (int j = 0; j < R; ++j)
          acc[i][j] = _mm256_add_ps(acc[i][j], _mm256_mul_ps(wv, _mm256_loadu_ps(h + j * a.dim + d)));
      }
    }
    for (int i = 0; i < V; ++i)
      for (int j = 0; j < R; ++j) {
        float tail = 0;
        for (int64_t t = d; t < a.dim; ++t) tail += w[i * a.dim + t] * h[j * a.dim + t];
        // ((0+4) + (1+5)) + ((2+6) + (3+7)), as combine_lanes.
        const __m128 pairs = _mm_add_ps(_mm256_castps256_ps128(acc[i][j]), _mm256_extractf128_ps(acc[i][j], 1));
        const __m128 quads = _mm_hadd_ps(pairs, pairs);
        const float sum = _mm_cvtss_f32(quads) + _mm_cvtss_f32(_mm_shuffle_ps(quads, quads, 1));
        a.out[(r0 + j) * a.vocab + v0 + i] = sum + tail;
      }
  }
};
#endif

// Matrix rows v0 .. v0 + V - 1 against every hidden row, in blocks of at most 8 accumulators.
template <template <int, int> class Block, int V>
PYRAMIDION_INLINE void project_matrix_rows(const ProjectionArgs& a, int64_t v0) {
  constexpr int kRows = 8 / V;
  int64_t r = 0;
  for (; r + kRows <= a.rows; r += kRows) Block<V, kRows>::run(a, v0, r);
  for (; r < a.rows; ++r) Block<V, 1>::run(a, v0, r);
}

// Matrix rows [begin, end): each block of matrix rows is read from memory once (it stays in L1 across the hidden
// rows). Few hidden rows take more matrix rows per block, so that there are always ~8 chains in flight.
template <template <int, int> class Block>
void project_body(const ProjectionArgs& a, int64_t begin, int64_t end) {
  int64_t v = begin;
  if (a.rows == 1) {
    for (; v + 8 <= end; v += 8) project_matrix_rows<Block, 8>(a, v);
  } else if (a.rows < 4) {
    for (; v + 4 <= end; v += 4) project_matrix_rows<Block, 4>(a, v);
  } else {
    for (; v + 2 <= end; v += 2) project_matrix_rows<Block, 2>(a, v);
  }
  for (; v < end; ++v) project_matrix_rows<Block, 1>(a, v);
}

void project_baseline(const ProjectionArgs& a, int64_t begin, int64_t end) {
  project_body<PortableBlock>(a, begin, end);
}

#ifdef PYRAMIDION_PROJECTION_AVX2
void project_avx2(const ProjectionArgs& a, int64_t begin, int64_t end) { project_body<Avx2Block>(a, begin, end); }

bool has_avx2() {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return available;
}
#endif

}  // namespace

torch::Tensor project_rows_one_pass(const torch::Tensor& hidden, const torch::Tensor& weight) {
  TORCH_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
              "project_rows_one_pass: hidden (rows, dim) and weight (vocab, dim) expected, got ", hidden.sizes(),
              " and ", weight.sizes());
  TORCH_CHECK(hidden.device().is_cpu() && weight.device().is_cpu() && hidden.scalar_type() == torch::kFloat &&
                  weight.scalar_type() == torch::kFloat,
              "project_rows_one_pass: CPU float32 tensors expected");
  const torch::Tensor x = hidden.contiguous();
  const torch::Tensor w = weight.contiguous();
  const int64_t rows = x.size(0), dim = x.size(1), vocab = w.size(0);
  torch::Tensor out = torch::empty({rows, vocab}, x.options());
  const ProjectionArgs args{x.data_ptr<float>(), w.data_ptr<float>(), out.data_ptr<float>(), rows, vocab, dim};
  // ~64 KiB of the matrix per task at dim 256.
  const int64_t grain = std::max<int64_t>(16, 16384 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, vocab, grain, [&](int64_t begin, int64_t end) {
#ifdef PYRAMIDION_PROJECTION_AVX2
    if (has_avx2()) return project_avx2(args, begin, end);
#endif
    project_baseline(args, begin, end);
  });
  return out;
}

torch::Tensor project_to_vocabulary(const torch::Tensor& hidden, const torch::Tensor& weight) {
  const int64_t dim = hidden.size(-1);
  const int64_t rows = dim > 0 ? hidden.numel() / dim : 0;
  const bool needs_grad = torch::GradMode::is_enabled() && (hidden.requires_grad() || weight.requires_grad());
  const bool kernel = !needs_grad && rows >= 1 && rows <= kVocabularyKernelRows && hidden.device().is_cpu() &&
                      weight.device().is_cpu() && hidden.scalar_type() == torch::kFloat &&
                      weight.scalar_type() == torch::kFloat && weight.is_contiguous();
  if (!kernel) return torch::matmul(hidden, weight.t().to(hidden.scalar_type()));
  auto sizes = hidden.sizes().vec();
  sizes.back() = weight.size(0);
  return project_rows_one_pass(hidden.reshape({rows, dim}), weight).view(sizes);
}

}  // namespace pyramidion
