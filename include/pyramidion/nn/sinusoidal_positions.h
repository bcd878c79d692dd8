#pragma once
// fairseq-style sinusoidal position embeddings: [sin(p * f_i), cos(p * f_i)] with f_i = 10000^(-i / (dim/2 - 1)).
#include <torch/types.h>

namespace pyramidion {

// positions: any shape, int64; returns (..., dim) in `dtype` on the positions' device. Odd dims get a zero column.
torch::Tensor sinusoidal_embeddings(const torch::Tensor& positions, int64_t dim, torch::ScalarType dtype);

// Hugging Face PEGASUS (PegasusSinusoidalPositionalEmbedding): [sin(p * f_i), cos(p * f_i)] with
// f_i = 10000^(-2i / dim), i < ceil(dim / 2) for the sines. positions: any shape, int64 -> (..., dim) in `dtype`.
torch::Tensor pegasus_sinusoidal_embeddings(const torch::Tensor& positions, int64_t dim, torch::ScalarType dtype);

// fairseq numbering for right-padded sequences: the j-th real token (0-based) gets position pad_id + 1 + j and
// padding gets a zero vector. mask (batch, length) bool -> (batch, length, dim).
torch::Tensor document_positions(const torch::Tensor& mask, int64_t pad_id, int64_t dim, torch::ScalarType dtype);

}  // namespace pyramidion
