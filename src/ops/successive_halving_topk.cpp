// The public successive-halving top-k: argument checks, the autograd node over all rounds, and the table
// that sends each round to the kernels of the tensors' device (successive_halving_kernels.h).
#include "pyramidion/ops/successive_halving_topk.h"

#include <torch/torch.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "successive_halving_kernels.h"

namespace pyramidion {
namespace ops_detail {
namespace {

// One slot per device type; CPU is filled here, other devices by their registrations (CUDA from
// successive_halving_topk_cuda.cu when built with PYRAMIDION_WITH_CUDA). Atomics: registrations run at
// load time, look-ups from any thread later.
using KernelTable = std::array<std::atomic<const HalvingKernels*>, c10::COMPILE_TIME_MAX_DEVICE_TYPES>;

KernelTable& kernel_table() {
  static KernelTable table{};  // all slots null
  static const bool cpu_installed = [] {
    table[static_cast<size_t>(c10::DeviceType::CPU)].store(&cpu_halving_kernels());
    return true;
  }();
  (void)cpu_installed;
  return table;
}

}  // namespace

void register_halving_kernels(c10::DeviceType device, const HalvingKernels& kernels) {
  kernel_table()[static_cast<size_t>(device)].store(&kernels);
}

const HalvingKernels& halving_kernels_for(const torch::Tensor& embeddings) {
  const HalvingKernels* kernels = kernel_table()[static_cast<size_t>(embeddings.device().type())].load();
  if (kernels != nullptr && kernels->supports(embeddings.scalar_type())) return *kernels;
  return generic_halving_kernels();
}

}  // namespace ops_detail

namespace {

using ops_detail::HalvingRound;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

void validate(const torch::Tensor& embeddings, const torch::Tensor& scores, int64_t k, const torch::Tensor& mask) {
  auto fail = [](const std::string& message) { throw std::invalid_argument("successive_halving_topk: " + message); };
  if (!embeddings.defined() || !scores.defined()) fail("embeddings and scores must be defined tensors");
  if (embeddings.dim() != 3) fail("embeddings must be (batch, n, dim), got shape " + shape_of(embeddings));
  if (scores.dim() != 2) fail("scores must be (batch, n), got shape " + shape_of(scores));
  if (scores.size(0) != embeddings.size(0) || scores.size(1) != embeddings.size(1))
    fail("scores " + shape_of(scores) + " do not match embeddings " + shape_of(embeddings));
  if (!embeddings.is_floating_point() || !scores.is_floating_point())
    fail("embeddings and scores must be floating point");
  if (embeddings.device() != scores.device()) fail("embeddings and scores are on different devices");
  if (k < 1) fail("k must be >= 1, got " + std::to_string(k));
  if (mask.defined()) {
    if (mask.dim() != 2 || mask.size(0) != scores.size(0) || mask.size(1) != scores.size(1))
      fail("mask " + shape_of(mask) + " does not match scores " + shape_of(scores));
    if (mask.scalar_type() != torch::kBool) fail("mask must be a bool tensor (true = real token)");
  }
  if (scores.numel() > 0 && torch::isnan(scores).any().item<bool>()) fail("scores contain NaN");
}

// The internal score dtype: float32 at least, so base^score differences stay meaningful in half precision.
torch::ScalarType score_dtype(const torch::Tensor& embeddings) {
  auto t = embeddings.scalar_type();
  return (t == torch::kDouble || t == torch::kFloat) ? t : torch::kFloat;
}

// The op's own large CPU buffers (round outputs, the returned input gradient) are kept for the next call when
// freed: a training loop calls the op with the same sizes every step, and memory that is already mapped costs
// nothing, whatever the host program's malloc settings (glibc hands blocks above its mmap threshold back to the
// kernel on free, so every call would page-fault 100+ MiB in afresh, 4 KiB at a time). At most kMaxCachedBytes
// wait in the cache; blocks below kMinCachedBytes and non-CPU buffers are plain torch::empty.
class BufferCache {
 public:
  static BufferCache& instance() {
    static BufferCache* cache = new BufferCache;  // never destroyed: tensors may be freed during exit
    return *cache;
  }

  torch::Tensor empty(at::IntArrayRef sizes, const torch::TensorOptions& options) {
    int64_t elements = 1;
    for (int64_t size : sizes) elements *= size;
    const size_t bytes = static_cast<size_t>(elements) * options.dtype().itemsize();
    if (!options.device().is_cpu() || bytes < kMinCachedBytes) return torch::empty(sizes, options);
    size_t block_bytes = 0;
    void* block = acquire(bytes, block_bytes);
    if (block == nullptr) return torch::empty(sizes, options);
    return torch::from_blob(
        block, sizes, [block_bytes](void* p) { instance().release(p, block_bytes); }, options);
  }

 private:
  static constexpr size_t kMinCachedBytes = size_t{1} << 20;
  static constexpr size_t kMaxCachedBytes = size_t{512} << 20;

  // The smallest cached block that holds `bytes` without wasting more than half of it, else a new one.
  void* acquire(size_t bytes, size_t& block_bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      size_t best = free_.size();
      for (size_t i = 0; i < free_.size(); ++i)
        if (free_[i].first >= bytes && free_[i].first <= 2 * bytes &&
            (best == free_.size() || free_[i].first < free_[best].first))
          best = i;
      if (best < free_.size()) {
        block_bytes = free_[best].first;
        void* block = free_[best].second;
        cached_ -= block_bytes;
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
        return block;
      }
    }
    block_bytes = (bytes + 63) / 64 * 64;
    return std::aligned_alloc(64, block_bytes);
  }

  void release(void* block, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.emplace_back(bytes, block);
    cached_ += bytes;
    while (cached_ > kMaxCachedBytes && !free_.empty()) {  // oldest first
      cached_ -= free_.front().first;
      std::free(free_.front().second);
      free_.erase(free_.begin());
    }
  }

  std::mutex mutex_;
  std::vector<std::pair<size_t, void*>> free_;  // (bytes, block), oldest first
  size_t cached_ = 0;
};

torch::Tensor workspace(at::IntArrayRef sizes, const torch::TensorOptions& options) {
  return BufferCache::instance().empty(sizes, options);
}

// All rounds as one autograd node: forward keeps each round's inputs and pairing, backward walks them back.
// Memory: the outputs of all rounds but the last live in one workspace (they are the next rounds' inputs, kept for
// the backward); the backward writes each round's input gradient over that round's input in place (dead by then),
// so it allocates only the gradient it returns.
class SuccessiveHalvingFunction : public torch::autograd::Function<SuccessiveHalvingFunction> {
 public:
  // embeddings (batch, k * 2^rounds, dim), scores (batch, k * 2^rounds) -> {(batch, k, dim), (batch, k)}
  static variable_list forward(AutogradContext* ctx, torch::Tensor embeddings, torch::Tensor scores, double base,
                               bool flip_right, bool sort_back, int64_t rounds) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> saved;
    saved.reserve(static_cast<size_t>(rounds) * 5);
    torch::Tensor e = embeddings.contiguous();
    torch::Tensor s = scores.contiguous();
    const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2);
    const auto& kernels = ops_detail::halving_kernels_for(e);
    int64_t inner_rows = 0;  // rows of the rounds' outputs that are later rounds' inputs
    for (int64_t r = 0; r + 1 < rounds; ++r) inner_rows += n >> (r + 1);
    const torch::Tensor inner = workspace({batch * inner_rows * dim}, e.options());
    const torch::Tensor round_scores = torch::empty({batch * (n - (n >> rounds))}, s.options());
    const torch::Tensor weights = torch::empty({batch * (n - (n >> rounds))}, s.options());
    int64_t row_offset = 0, score_offset = 0;
    for (int64_t r = 0; r < rounds; ++r) {
      const int64_t half = e.size(1) / 2;
      HalvingRound round;
      round.embeddings = e;
      round.scores = s;
      ops_detail::make_halving_pairs(round, flip_right, sort_back);
      round.weight = weights.narrow(0, score_offset, batch * half).view({batch, half});
      ops_detail::HalvingOutput out;
      out.embeddings = r + 1 < rounds
                           ? inner.narrow(0, row_offset * batch * dim, batch * half * dim).view({batch, half, dim})
                           : torch::empty({batch, half, dim}, e.options());  // returned: its own allocation
      out.scores = round_scores.narrow(0, score_offset, batch * half).view({batch, half});
      kernels.forward(round, base, out);
      saved.insert(saved.end(), {round.embeddings, round.scores, round.first, round.second, round.weight});
      if (r + 1 < rounds) row_offset += half;
      score_offset += batch * half;
      e = out.embeddings;
      s = out.scores;
    }
    ctx->saved_data["rounds"] = saved;
    ctx->saved_data["base"] = base;
    return {e, s};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (ctx->saved_data.count("consumed") != 0)
      throw std::runtime_error(
          "successive_halving_topk: a second backward through the same forward (retain_graph) is not supported: "
          "the first one reuses the saved activations for the gradient; run the forward again");
    ctx->saved_data["consumed"] = true;
    auto saved = ctx->saved_data["rounds"].toTensorVector();
    const double base = ctx->saved_data["base"].toDouble();
    const int64_t rounds = static_cast<int64_t>(saved.size() / 5);
    torch::Tensor grad_e = grads[0];
    torch::Tensor grad_s = grads[1];
    const auto& kernels = ops_detail::halving_kernels_for(saved[0]);
    for (int64_t r = rounds - 1; r >= 0; --r) {
      HalvingRound round{saved[r * 5], saved[r * 5 + 1], saved[r * 5 + 2], saved[r * 5 + 3], saved[r * 5 + 4]};
      const torch::Tensor& input = round.embeddings;  // (batch, n_r, dim)
      if (!grad_e.defined())
        grad_e = torch::zeros({input.size(0), round.first.size(1), input.size(2)}, input.options());
      if (!grad_s.defined()) grad_s = torch::zeros_like(round.weight);
      grad_e = grad_e.to(input.scalar_type()).contiguous();
      grad_s = grad_s.to(round.scores.scalar_type()).contiguous();
      // Round 0's input is the caller's tensor: its gradient is the one allocation. Later rounds' inputs are the
      // op's workspace, dead once this round is done: their gradient overwrites them.
      ops_detail::HalvingGrads target;
      target.embeddings = r == 0 ? workspace(input.sizes(), input.options()) : input;
      target.scores = torch::empty_like(round.scores);
      kernels.backward(round, grad_e, grad_s, base, target);
      grad_e = target.embeddings;
      grad_s = target.scores;
    }
    ctx->saved_data.erase("rounds");  // the workspace is free as soon as autograd is done with the gradients
    return {grad_e, grad_s, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// Exact top-k: rows of the k highest scores (ties: lower index first), in score or document order.
TopKResult hard_topk(const torch::Tensor& embeddings, const torch::Tensor& scores, int64_t k,
                     const TopKOptions& options, const torch::Tensor& mask) {
  torch::Tensor key = scores.detach();
  if (mask.defined()) key = key.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  torch::Tensor index = std::get<1>(torch::sort(key, /*stable=*/true, /*dim=*/1, /*descending=*/true)).narrow(1, 0, k);
  if (options.sort_back) index = std::get<0>(torch::sort(index, /*stable=*/true, /*dim=*/1, /*descending=*/false));
  auto rows = index.unsqueeze(-1).expand({index.size(0), k, embeddings.size(2)});
  return {embeddings.gather(1, rows), scores.gather(1, index)};
}

}  // namespace

int64_t successive_halving_rounds(int64_t n, int64_t k) {
  int64_t rounds = 0;
  while ((k << rounds) < n) ++rounds;
  return rounds;
}

TopKResult successive_halving_topk(const torch::Tensor& embeddings, const torch::Tensor& scores, int64_t k,
                                   const TopKOptions& options, const torch::Tensor& mask) {
  validate(embeddings, scores, k, mask);
  torch::Tensor e = embeddings;
  torch::Tensor s = scores;
  // An all-real mask changes nothing: no masked copy of the input (one host check, like the NaN check above).
  if (mask.defined() && !mask.all().item<bool>()) {
    auto m = mask.to(e.device());
    e = torch::where(m.unsqueeze(-1), e, torch::zeros({}, e.options()));
    s = torch::where(m, s, torch::full({}, kTopKPaddingScore, s.options()));
  }
  const int64_t batch = e.size(0), n = e.size(1), dim = e.size(2);
  if (k >= n) return {e, s};
  if (options.hard) return hard_topk(e, s, k, options, mask.defined() ? mask.to(e.device()) : mask);

  const auto input_score_dtype = s.scalar_type();
  s = s.to(score_dtype(e));
  const int64_t rounds = successive_halving_rounds(n, k);
  const int64_t padded = k << rounds;
  if (padded > n) {
    e = torch::cat({e, torch::zeros({batch, padded - n, dim}, e.options())}, 1);
    s = torch::cat({s, torch::full({batch, padded - n}, kTopKPaddingScore, s.options())}, 1);
  }
  auto out = SuccessiveHalvingFunction::apply(e, s, options.base, options.flip_right, options.sort_back, rounds);
  return {out[0], out[1].to(input_score_dtype)};
}

}  // namespace pyramidion
