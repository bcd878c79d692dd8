#include "pyramidion/nn/blockwise_self_attention.h"

#include <torch/torch.h>

namespace pyramidion {

BlockwiseSelfAttentionImpl::BlockwiseSelfAttentionImpl(const MultiheadAttentionOptions& options, int64_t chunk_size)
    : chunk_size_(chunk_size) {
  attention_ = register_module("attention", MultiheadAttention(options));
}

int64_t BlockwiseSelfAttentionImpl::block_size(int64_t length) const {
  return chunk_size_ > 0 ? std::min(chunk_size_, length) : length;
}

torch::Tensor BlockwiseSelfAttentionImpl::forward(const torch::Tensor& states, const torch::Tensor& mask) {
  const int64_t batch = states.size(0), length = states.size(1), dim = states.size(2);
  const int64_t block = block_size(length);
  if (block == length || length == 0) return attention_(states, states, mask);
  const int64_t blocks = (length + block - 1) / block;
  const int64_t padded = blocks * block;
  torch::Tensor x = states, m = mask;
  if (padded > length) {
    // The partial last block needs a mask even when no token of the input is padding.
    if (!m.defined()) m = torch::ones({batch, length}, states.options().dtype(torch::kBool));
    x = torch::cat({x, torch::zeros({batch, padded - length, dim}, x.options())}, 1);
    m = torch::cat({m, torch::zeros({batch, padded - length}, m.options())}, 1);
  }
  x = x.reshape({batch * blocks, block, dim});              // (batch * blocks, block, dim)
  if (m.defined()) m = m.reshape({batch * blocks, block});  // (batch * blocks, block)
  torch::Tensor out = attention_(x, x, m);
  return out.reshape({batch, padded, dim}).narrow(1, 0, length);
}

}  // namespace pyramidion
