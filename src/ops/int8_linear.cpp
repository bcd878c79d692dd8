#include "pyramidion/ops/int8_linear.h"

#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

// Compiled for AVX2 and for the baseline, picked at run time (as nn/vocabulary_projection.cpp); no FMA, so both
// copies give the same bits.
#if defined(__x86_64__) && defined(__GNUC__)
#define PYRAMIDION_INT8_AVX2 1
#include <immintrin.h>
#endif

namespace pyramidion {
namespace {

#define PYRAMIDION_INLINE __attribute__((always_inline)) inline

struct Int8Args {
  const float* x;        // (rows, in)
  const int8_t* values;  // (out, in)
  const float* scale;    // (out)
  float* y;              // (rows, out)
  int64_t rows, out, in;
};

// Lane l sums the products d = l, l + 8, ...; the lanes are combined in one fixed order (as the float kernel).
PYRAMIDION_INLINE float combine_lanes(const float* acc, float tail) {
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

template <int V, int R>
struct PortableBlock {
  static void run(const Int8Args& a, int64_t o0, int64_t r0) {
    for (int i = 0; i < V; ++i)
      for (int j = 0; j < R; ++j) {
        const int8_t* w = a.values + (o0 + i) * a.in;
        const float* x = a.x + (r0 + j) * a.in;
        float acc[8] = {};
        int64_t d = 0;
        for (; d + 8 <= a.in; d += 8)
          for (int l = 0; l < 8; ++l) acc[l] += static_cast<float>(w[d + l]) * x[d + l];
        float tail = 0;
        for (; d < a.in; ++d) tail += static_cast<float>(w[d]) * x[d];
        a.y[(r0 + j) * a.out + o0 + i] = combine_lanes(acc, tail) * a.scale[o0 + i];
      }
  }
};

#ifdef PYRAMIDION_INT8_AVX2
// V weight rows x R activation rows, one 8-lane accumulator each; 8 int8 weights are widened to float per load.
template <int V, int R>
struct Avx2Block {
  __attribute__((target("avx2"))) static void run(const Int8Args& a, int64_t o0, int64_t r0) {
    __m256 acc[V][R];
    for (int i = 0; i < V; ++i)
      for (int j = 0; j < R; ++j) acc[i][j] = _mm256_setzero_ps();
    const int8_t* w = a.values + o0 * a.in;
    const float* x = a.x + r0 * a.in;
    int64_t d = 0;
    for (; d + 8 <= a.in; d += 8) {
      for (int i = 0; i < V; ++i) {
        const __m128i packed = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w + i * a.in + d));
        const __m256 wv = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(packed));
        for (int j = 0; j < R; ++j)
          acc[i][j] = _mm256_add_ps(acc[i][j], _mm256_mul_ps(wv, _mm256_loadu_ps(x + j * a.in + d)));
      }
    }
    for (int i = 0; i < V; ++i)
      for (int j = 0; j < R; ++j) {
        float tail = 0;
        for (int64_t t = d; t < a.in; ++t) tail += static_cast<float>(w[i * a.in + t]) * x[j * a.in + t];
        const __m128 pairs = _mm_add_ps(_mm256_castps256_ps128(acc[i][j]), _mm256_extractf128_ps(acc[i][j], 1));
        const __m128 quads = _mm_hadd_ps(pairs, pairs);
        const float sum = _mm_cvtss_f32(quads) + _mm_cvtss_f32(_mm_shuffle_ps(quads, quads, 1));
        a.y[(r0 + j) * a.out + o0 + i] = (sum + tail) * a.scale[o0 + i];
      }
  }
};
#endif

template <template <int, int> class Block, int V>
PYRAMIDION_INLINE void weight_rows(const Int8Args& a, int64_t o0) {
  constexpr int kRows = 8 / V;
  int64_t r = 0;
  for (; r + kRows <= a.rows; r += kRows) Block<V, kRows>::run(a, o0, r);
  for (; r < a.rows; ++r) Block<V, 1>::run(a, o0, r);
}

// Output rows [begin, end): each block of weight rows is read once and stays in L1 across the activation rows.
template <template <int, int> class Block>
void one_pass_body(const Int8Args& a, int64_t begin, int64_t end) {
  int64_t o = begin;
  if (a.rows == 1) {
    for (; o + 8 <= end; o += 8) weight_rows<Block, 8>(a, o);
  } else if (a.rows < 4) {
    for (; o + 4 <= end; o += 4) weight_rows<Block, 4>(a, o);
  } else {
    for (; o + 2 <= end; o += 2) weight_rows<Block, 2>(a, o);
  }
  for (; o < end; ++o) weight_rows<Block, 1>(a, o);
}

#ifdef PYRAMIDION_INT8_AVX2
bool has_avx2() {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return available;
}
#endif

void check_int8_arguments(const torch::Tensor& x, const torch::Tensor& values, const torch::Tensor& scale,
                          const char* what) {
  TORCH_CHECK(values.dim() == 2 && values.scalar_type() == torch::kChar, what, ": values must be (out, in) int8, got ",
              values.sizes(), " ", values.scalar_type());
  TORCH_CHECK(scale.dim() == 1 && scale.size(0) == values.size(0) && scale.scalar_type() == torch::kFloat, what,
              ": scale must be (out) float32, got ", scale.sizes(), " ", scale.scalar_type());
  TORCH_CHECK(x.size(-1) == values.size(1), what, ": x has ", x.size(-1), " features, the weight ", values.size(1));
  TORCH_CHECK(x.scalar_type() == torch::kFloat, what, ": float32 activations expected, got ", x.scalar_type());
  TORCH_CHECK(x.device().is_cpu() && values.device().is_cpu() && scale.device().is_cpu(), what,
              ": int8 compute runs on the CPU only");
}

// Output rows dequantized per call, per block: 256 x in floats (512 KiB at in = 512) stay in L2 for the GEMM.
constexpr int64_t kGemmBlockRows = 256;

// LibTorch's quantized::linear_dynamic on the oneDNN engine (int8 GEMM with VNNI where the CPU has it; activations
// quantized per call to uint8): 4-13x the float32 GEMM at 2048 rows on the reference CPU, but ~0.1 ms per call of
// fixed cost (bench int8). Its prepacked weights are made once per int8 matrix, on first use, and kept in a table
// keyed by the matrix's storage (so neither the layers nor the model file know about them): an entry is rebuilt
// when its matrix was freed or written since (version counter), so a reloaded or refilled matrix is never stale.
class OnednnPacks {
 public:
  static OnednnPacks& instance() {
    static OnednnPacks packs;
    return packs;
  }
  bool available() const { return engine_.has_value(); }

  // values (out, in) int8, scale (out) float32 -> the prepacked weight, or None when oneDNN is unavailable.
  c10::IValue packed(const torch::Tensor& values, const torch::Tensor& scale) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(values.unsafeGetTensorImpl());
    if (found == entries_.end()) {
      // A new matrix: first drop the packs of freed ones (a model unloaded), which would otherwise stay forever.
      for (auto it = entries_.begin(); it != entries_.end();)
        it = it->second.values.expired() ? entries_.erase(it) : ++it;
    }
    Entry& entry = entries_[values.unsafeGetTensorImpl()];
    const bool fresh = !entry.values.expired() && entry.values_version == values._version() &&
                       entry.scale_impl == scale.unsafeGetTensorImpl() && entry.scale_version == scale._version();
    if (fresh) return entry.packed;
    const c10::QEngine previous = at::globalContext().qEngine();
    at::globalContext().setQEngine(*engine_);
    const torch::Tensor q = torch::_make_per_channel_quantized_tensor(values.contiguous(), scale.to(torch::kDouble),
                                                                      torch::zeros({values.size(0)}, torch::kLong), 0);
    torch::jit::Stack stack{q, c10::IValue()};  // no bias: added by int8_linear
    prepack_->callBoxed(&stack);
    at::globalContext().setQEngine(previous);
    entry = {c10::weak_intrusive_ptr<c10::TensorImpl>(values.getIntrusivePtr()), values._version(),
             scale.unsafeGetTensorImpl(), scale._version(), stack.at(0)};
    return entry.packed;
  }

  // x (rows, in) float32 -> (rows, out) float32.
  torch::Tensor run(const torch::Tensor& x, const c10::IValue& packed) const {
    torch::jit::Stack stack{x, packed, false};
    dynamic_->callBoxed(&stack);
    return stack.at(0).toTensor();
  }

 private:
  OnednnPacks() {
    // PYRAMIDION_INT8_ONEDNN=0: the project's kernels only (weights rounded, activations never), for comparisons.
    if (const char* use = std::getenv("PYRAMIDION_INT8_ONEDNN"); use && std::string(use) == "0") return;
    try {
      for (const auto engine : at::globalContext().supportedQEngines())
        if (c10::toString(engine) == "ONEDNN") engine_ = engine;
      if (!engine_) return;
      prepack_ = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "");
      dynamic_ = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_dynamic", "");
    } catch (const std::exception&) {
      engine_.reset();  // a LibTorch without the quantized operators: the project's kernels only
    }
  }
  struct Entry {
    c10::weak_intrusive_ptr<c10::TensorImpl> values{c10::intrusive_ptr<c10::TensorImpl>()};
    int64_t values_version = -1;
    const c10::TensorImpl* scale_impl = nullptr;
    int64_t scale_version = -1;
    c10::IValue packed;
  };
  std::optional<c10::QEngine> engine_;
  std::optional<c10::OperatorHandle> prepack_, dynamic_;
  std::mutex mutex_;
  std::unordered_map<const c10::TensorImpl*, Entry> entries_;
};

// Multiply-adds per call above which oneDNN's fixed cost pays (bench int8: the one-pass kernel wins below ~1M
// multiply-adds: 128x128 up to 32 rows, 512x128 up to 16, 2048x512 at 1-2 rows).
constexpr int64_t kOnednnMinMacs = int64_t{1} << 20;

}  // namespace

bool int8_linear_has_onednn() { return OnednnPacks::instance().available(); }

bool int8_linear_has_avx2() {
#ifdef PYRAMIDION_INT8_AVX2
  return has_avx2();
#else
  return false;
#endif
}

Int8Rows quantize_rows(const torch::Tensor& weight) {
  TORCH_CHECK(weight.dim() == 2 && weight.is_floating_point(),
              "quantize_rows: (rows, cols) floating weight expected, got ", weight.sizes(), " ", weight.scalar_type());
  torch::NoGradGuard no_grad;
  const torch::Tensor w = weight.to(torch::kFloat);
  torch::Tensor scale = w.abs().amax(1) / 127.0;  // (rows)
  scale = torch::where(scale > 0, scale, torch::ones_like(scale));
  torch::Tensor values = torch::round(w / scale.unsqueeze(1)).clamp(-127, 127).to(torch::kChar);
  return {values.contiguous(), scale.contiguous()};
}

torch::Tensor dequantize_rows(const torch::Tensor& values, const torch::Tensor& scale) {
  return values.to(torch::kFloat) * scale.unsqueeze(1);
}

torch::Tensor int8_linear_one_pass(const torch::Tensor& x, const torch::Tensor& values, const torch::Tensor& scale) {
  check_int8_arguments(x, values, scale, "int8_linear_one_pass");
  TORCH_CHECK(x.dim() == 2, "int8_linear_one_pass: x must be (rows, in), got ", x.sizes());
  const torch::Tensor xc = x.contiguous();
  const torch::Tensor w = values.contiguous();
  const torch::Tensor s = scale.contiguous();
  const int64_t rows = xc.size(0), in = xc.size(1), out = w.size(0);
  torch::Tensor y = torch::empty({rows, out}, xc.options());
  const Int8Args args{
      xc.data_ptr<float>(), w.data_ptr<int8_t>(), s.data_ptr<float>(), y.data_ptr<float>(), rows, out, in};
  // ~64 KiB of weights per task.
  const int64_t grain = std::max<int64_t>(16, 65536 / std::max<int64_t>(in, 1));
  at::parallel_for(0, out, grain, [&](int64_t begin, int64_t end) {
#ifdef PYRAMIDION_INT8_AVX2
    if (has_avx2()) return one_pass_body<Avx2Block>(args, begin, end);
#endif
    one_pass_body<PortableBlock>(args, begin, end);
  });
  return y;
}

torch::Tensor int8_linear_blocked_gemm(const torch::Tensor& x, const torch::Tensor& values,
                                       const torch::Tensor& scale) {
  check_int8_arguments(x, values, scale, "int8_linear_blocked_gemm");
  TORCH_CHECK(x.dim() == 2, "int8_linear_blocked_gemm: x must be (rows, in), got ", x.sizes());
  const torch::Tensor w = values.contiguous();
  const torch::Tensor s = scale.contiguous();
  const int64_t rows = x.size(0), in = x.size(1), out = w.size(0);
  torch::Tensor y = torch::empty({rows, out}, x.options());
  // One buffer per thread, kept: a fresh one per call would page-fault on every call.
  thread_local std::vector<float> buffer;
  buffer.resize(static_cast<size_t>(kGemmBlockRows * in));
  const int8_t* wp = w.data_ptr<int8_t>();
  const float* sp = s.data_ptr<float>();
  for (int64_t o0 = 0; o0 < out; o0 += kGemmBlockRows) {
    const int64_t n = std::min(kGemmBlockRows, out - o0);
    for (int64_t o = 0; o < n; ++o) {
      const int8_t* src = wp + (o0 + o) * in;
      float* dst = buffer.data() + o * in;
      const float sc = sp[o0 + o];
      for (int64_t d = 0; d < in; ++d) dst[d] = static_cast<float>(src[d]) * sc;
    }
    const torch::Tensor block = torch::from_blob(buffer.data(), {n, in}, x.options());  // (n, in) float32
    torch::Tensor target = y.narrow(1, o0, n);  // (rows, n), row stride `out`: written in place by the GEMM
    torch::mm_out(target, x, block.t());
  }
  return y;
}

torch::Tensor int8_linear(const torch::Tensor& x, const torch::Tensor& values, const torch::Tensor& scale,
                          const torch::Tensor& bias) {
  check_int8_arguments(x, values, scale, "int8_linear");
  const int64_t in = x.size(-1);
  const int64_t rows = in > 0 ? x.numel() / in : 0;
  const torch::Tensor flat = x.reshape({rows, in});
  torch::Tensor y;
  OnednnPacks& onednn = OnednnPacks::instance();
  if (rows * values.size(0) * in > kOnednnMinMacs && onednn.available())
    y = onednn.run(flat.contiguous(), onednn.packed(values, scale));
  else if (rows <= kInt8OnePassRows)
    y = int8_linear_one_pass(flat, values, scale);
  else
    y = int8_linear_blocked_gemm(flat.contiguous(), values, scale);
  if (bias.defined()) y.add_(bias);
  auto sizes = x.sizes().vec();
  sizes.back() = values.size(0);
  return y.view(sizes);
}

}  // namespace pyramidion
