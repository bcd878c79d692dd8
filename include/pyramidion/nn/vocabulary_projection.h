#pragma once
// The output projection onto the vocabulary, hidden @ weight^T, with a one-pass kernel for incremental decoding.
//
// A decode step projects a handful of rows (batch x beam) onto a (vocab, dim) matrix: the work is reading the
// matrix once. A BLAS call on weight.t() re-packs the whole transposed matrix on every call first (measured
// 7 ms of a 32000 x 256 step, ~70% of a pooled model's decode step on one core). The kernel here reads the
// matrix once in its stored layout, each output a dot product with a fixed summation order (so a row's result
// does not depend on the other rows), no copy to keep in sync with the embedding.

#include <torch/types.h>

namespace pyramidion {

// hidden (..., dim), weight (vocab, dim) -> (..., vocab). The kernel runs when nothing needs a gradient, on CPU
// float32 with at most kVocabularyKernelRows rows; everything else is torch::matmul(hidden, weight.t()). The two
// agree up to float rounding (the summation order differs).
torch::Tensor project_to_vocabulary(const torch::Tensor& hidden, const torch::Tensor& weight);

// Rows up to which the kernel runs (bench_projection, 32000 x 256 on one core: 2.9x the BLAS product at 1 row,
// 2.4x at 8, 1.9x at 32; beyond 32 rows, unmeasured, the BLAS product).
constexpr int64_t kVocabularyKernelRows = 32;

// The kernel alone (tests): hidden (rows, dim), weight (vocab, dim), CPU float32 contiguous -> (rows, vocab).
torch::Tensor project_rows_one_pass(const torch::Tensor& hidden, const torch::Tensor& weight);

}  // namespace pyramidion
