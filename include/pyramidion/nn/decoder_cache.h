#pragma once
// Incremental-decoding state: per decoder layer, the self-attention keys/values of the tokens decoded so far
// and the cross-attention keys/values of the encoder memory (computed once per document).
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace pyramidion {

struct DecoderLayerCache {
  torch::Tensor self_key;     // (batch, heads, steps, head_dim); undefined before the first step
  torch::Tensor self_value;   // (batch, heads, steps, head_dim)
  torch::Tensor cross_key;    // (batch, heads, memory_len, head_dim)
  torch::Tensor cross_value;  // (batch, heads, memory_len, head_dim)
};

class DecoderCache {
 public:
  DecoderCache() = default;
  // memory_mask (batch, memory_len) bool, true = real encoder state.
  DecoderCache(std::vector<DecoderLayerCache> layers, torch::Tensor memory_mask);

  // Keeps row rows[i] of the current batch as row i (beam search: rows (batch * beam) int64, the beams that
  // survive). Rows may repeat and their count may differ from the current batch size, so the same call expands
  // a per-document cache to `beam` rows: reorder(arange(batch).repeat_interleave(beam)).
  void reorder(const torch::Tensor& rows);

  int64_t length() const { return length_; }  // tokens decoded so far (the next token's position)
  int64_t batch_size() const { return memory_mask_.defined() ? memory_mask_.size(0) : 0; }
  const torch::Tensor& memory_mask() const { return memory_mask_; }  // (batch, memory_len) bool

  // For the decoder layers.
  std::vector<DecoderLayerCache>& layers() { return layers_; }
  const std::vector<DecoderLayerCache>& layers() const { return layers_; }
  void advance(int64_t steps = 1) { length_ += steps; }

 private:
  std::vector<DecoderLayerCache> layers_;
  torch::Tensor memory_mask_;
  int64_t length_ = 0;
};

}  // namespace pyramidion
