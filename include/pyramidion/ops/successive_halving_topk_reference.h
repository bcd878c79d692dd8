#pragma once
// The successive-halving top-k written the way the authors' reference does it: one example at a time,
// composed of differentiable LibTorch ops (sort, index, stack, softmax, sum). Slow; kept as the baseline
// for benchmarks and as an independent implementation for tests on devices without the fused kernels.
#include <torch/types.h>

#include "pyramidion/ops/successive_halving_topk.h"

namespace pyramidion {

// Same contract as successive_halving_topk (soft mode, no mask).
TopKResult successive_halving_topk_reference(const torch::Tensor& embeddings,  // (batch, n, dim)
                                             const torch::Tensor& scores,      // (batch, n)
                                             int64_t k, const TopKOptions& options = {});

}  // namespace pyramidion
