#pragma once
// int8 weights, float32 activations (CTranslate2's int8_float32, PyTorch's dynamic quantization without the
// activation rounding): a linear layer whose (out, in) matrix is stored as int8 with one float scale per output
// row, w[o, i] ~= values[o, i] * scale[o].
//
// Which kernel runs is decided per call by measurement (`pyramidion bench int8`, docs/benchmarks.md "int8"):
// - few multiply-adds (decode steps: a handful of rows, cost = reading the matrix): the project's one-pass kernel,
//   which converts each int8 weight to float on the fly (AVX2 when the CPU has it, a portable copy with the same
//   summation order otherwise) and applies the row's scale once at the end; no activation rounding;
// - many (the encoder, teacher forcing, big beams on big matrices): LibTorch's quantized::linear_dynamic on the
//   oneDNN engine (activations quantized per call to uint8, int8 GEMM), prepacked once per matrix;
// - without oneDNN: the one-pass kernel up to kInt8OnePassRows rows, then blocks of output rows dequantized into
//   a reused buffer and multiplied by LibTorch's float GEMM (float32 speed, int8 storage).
#include <torch/types.h>

namespace pyramidion {

struct Int8Rows {
  torch::Tensor values;  // (rows, cols) int8 in [-127, 127]
  torch::Tensor scale;   // (rows) float32 > 0
};

// Symmetric per row: scale = max |w[o, :]| / 127 (1 for an all-zero row), values = round(w / scale).
// weight (rows, cols) floating -> Int8Rows on the weight's device. |dequantize - w| <= scale / 2 per element.
Int8Rows quantize_rows(const torch::Tensor& weight);

// values (rows, cols) int8, scale (rows) float32 -> (rows, cols) float32 = values * scale.
torch::Tensor dequantize_rows(const torch::Tensor& values, const torch::Tensor& scale);

// x (..., in) float32, values (out, in) int8, scale (out) float32, bias (out) float32 or undefined
// -> (..., out) float32. CPU only; no gradient (inference).
torch::Tensor int8_linear(const torch::Tensor& x, const torch::Tensor& values, const torch::Tensor& scale,
                          const torch::Tensor& bias);

// Without oneDNN: rows (of x flattened to 2-D) up to which the one-pass kernel runs; more take dequantize + GEMM.
constexpr int64_t kInt8OnePassRows = 16;

// Whether the one-pass kernel runs its AVX2 copy on this CPU (else the portable copy, ~4x slower).
bool int8_linear_has_avx2();
// Whether LibTorch's oneDNN quantized engine is there (else the project's kernels do all the work).
bool int8_linear_has_onednn();

// The two paths alone (tests, bench): x (rows, in) float32 contiguous -> (rows, out) float32, no bias.
torch::Tensor int8_linear_one_pass(const torch::Tensor& x, const torch::Tensor& values, const torch::Tensor& scale);
torch::Tensor int8_linear_blocked_gemm(const torch::Tensor& x, const torch::Tensor& values, const torch::Tensor& scale);

}  // namespace pyramidion
