#pragma once
// The per-device kernels of one successive-halving round, and the table that picks them per device type.
// Internal to src/ops: the public entry point is successive_halving_topk() (successive_halving_topk.cpp holds
// the checks and the autograd node; the kernels live in successive_halving_topk_{cpu,generic}.cpp and, built
// with PYRAMIDION_WITH_CUDA, successive_halving_topk_cuda.cu).
#include <c10/core/DeviceType.h>
#include <torch/types.h>

namespace pyramidion::ops_detail {

// What the forward of one round keeps for its backward.
struct HalvingRound {
  torch::Tensor embeddings;  // (batch, n, dim) the round's input, contiguous
  torch::Tensor scores;      // (batch, n) the round's input scores (float32 at least), contiguous
  torch::Tensor first;       // (batch, n/2) int64 index of the top-half member of each pair
  torch::Tensor second;      // (batch, n/2) int64 index of its partner
  torch::Tensor weight;      // (batch, n/2) softmax weight of `first` (same dtype as scores)
};

struct HalvingOutput {
  torch::Tensor embeddings;  // (batch, n/2, dim)
  torch::Tensor scores;      // (batch, n/2)
};

struct HalvingGrads {
  torch::Tensor embeddings;  // (batch, n, dim)
  torch::Tensor scores;      // (batch, n)
};

// One device's kernels; outputs are preallocated by the op (one workspace per call, see
// successive_halving_topk.cpp) and written in place.
// forward: round.embeddings/scores/first/second set, round.weight (batch, n/2) allocated -> writes the mixed pairs
// into out.embeddings (batch, n/2, dim) / out.scores (batch, n/2) and the pair weights into round.weight.
// backward: grad_embeddings (batch, n/2, dim), grad_scores (batch, n/2) in the score dtype, both contiguous ->
// writes the gradients w.r.t. the round's inputs into grads.embeddings (batch, n, dim) / grads.scores (batch, n).
// grads.embeddings may be round.embeddings itself (the op reuses a round's dead input for its gradient): a kernel
// reads every input row before it writes that row's gradient.
struct HalvingKernels {
  const char* name;                                // "cpu", "generic", "cuda": for tests and logs
  bool (*supports)(torch::ScalarType embeddings);  // dtypes it takes; others go to the generic kernels
  void (*forward)(HalvingRound& round, double base, const HalvingOutput& out);
  void (*backward)(const HalvingRound& round, const torch::Tensor& grad_embeddings, const torch::Tensor& grad_scores,
                   double base, const HalvingGrads& grads);
};

// Fills round.first / round.second: stable sort by score (descending), the top half paired with the bottom
// half. Composed of LibTorch ops, so it runs on every device (successive_halving_topk_generic.cpp).
void make_halving_pairs(HalvingRound& round, bool flip_right, bool sort_back);

const HalvingKernels& cpu_halving_kernels();      // successive_halving_topk_cpu.cpp: float, double
const HalvingKernels& generic_halving_kernels();  // successive_halving_topk_generic.cpp: any device and dtype

// Installs `kernels` for a device type; a device's *_cuda.cu (compiled only with PYRAMIDION_WITH_CUDA)
// registers its kernels at library load time through a static HalvingKernelsRegistration, so the dispatch
// does not name kernels that were not built. Device types with no registration use the generic kernels.
void register_halving_kernels(c10::DeviceType device, const HalvingKernels& kernels);
struct HalvingKernelsRegistration {
  HalvingKernelsRegistration(c10::DeviceType device, const HalvingKernels& kernels) {
    register_halving_kernels(device, kernels);
  }
};

// The kernels for embeddings (batch, n, dim): the device's registered ones when they take its dtype, else generic.
const HalvingKernels& halving_kernels_for(const torch::Tensor& embeddings);

}  // namespace pyramidion::ops_detail
