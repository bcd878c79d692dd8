#pragma once
// Self-attention restricted to non-overlapping blocks of tokens (the paper's blockwise encoder).
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "pyramidion/nn/multihead_attention.h"

namespace pyramidion {

class BlockwiseSelfAttentionImpl : public torch::nn::Module {
 public:
  // chunk_size 0 = full attention over the whole sequence.
  BlockwiseSelfAttentionImpl(const MultiheadAttentionOptions& options, int64_t chunk_size);

  // states (batch, length, dim), mask (batch, length) bool, true = real token, or undefined when every token is
  // real (no mask work at all) -> (batch, length, dim).
  // Blocks hold min(chunk_size, length) tokens; the last one may be partial (padded and masked). Blocks start
  // at multiples of the block size from the document start, so a document's output does not depend on how much
  // padding its batch adds.
  torch::Tensor forward(const torch::Tensor& states, const torch::Tensor& mask);

  // Tokens per block for an input of `length` tokens.
  int64_t block_size(int64_t length) const;

 private:
  int64_t chunk_size_;
  MultiheadAttention attention_{nullptr};
};
TORCH_MODULE(BlockwiseSelfAttention);

}  // namespace pyramidion
