#include "pyramidion/nn/vocabulary_projection.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>

// Compiled for AVX2 and for the baseline, picked at run time (as the top-k kernels, successive_halving_topk_cpu.cpp);
// no FMA, so both copies give the same bits.
#if defined(__x86_64__) && defined(__GNUC__)
#define PYRAMIDION_PROJECTION_AVX2 1
#endif

namespace pyramidion {
namespace {

#define PYRAMIDION_INLINE __attribute__((always_inline)) inline

// sum_d a[d] * b[d] with 8 partial sums in a fixed order.
PYRAMIDION_INLINE float dot8(const float* __restrict a, const float* __restrict b, int64_t dim) {
  constexpr int kLanes = 8;
  float acc[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= dim; d += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += a[d + l] * b[d + l];
  }
  float tail = 0;
  for (; d < dim; ++d) tail += a[d] * b[d];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

struct ProjectionArgs {
  const float* hidden;  // (rows, dim)
  const float* weight;  // (vocab, dim)
  float* out;           // (rows, vocab)
  int64_t rows, vocab, dim;
};

// Vocabulary rows [begin, end): each matrix row is read once and dotted with every hidden row (in L1).
PYRAMIDION_INLINE void project_body(const ProjectionArgs& a, int64_t begin, int64_t end) {
  for (int64_t v = begin; v < end; ++v) {
    const float* w = a.weight + v * a.dim;
    for (int64_t r = 0; r < a.rows; ++r) a.out[r * a.vocab + v] = dot8(w, a.hidden + r * a.dim, a.dim);
  }
}

void project_baseline(const ProjectionArgs& a, int64_t begin, int64_t end) { project_body(a, begin, end); }
#ifdef PYRAMIDION_PROJECTION_AVX2
__attribute__((target("avx2"))) void project_avx2(const ProjectionArgs& a, int64_t begin, int64_t end) {
  project_body(a, begin, end);
}
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
