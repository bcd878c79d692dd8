#pragma once
// Incremental-decoding state: per decoder layer, the self-attention keys/values of the tokens decoded so far
// and the cross-attention keys/values of the encoder memory (computed once per document).
//
// Cost per step: the self-attention cache is a preallocated buffer (capacity doubles when full), so appending a
// token writes one slot instead of copying the whole history. The cross-attention cache stays one row per
// document, shared by the document's beams: beam rows of a document are consecutive, and the cross-attention of a
// step treats them as `memory_group()` queries of one document. Beam search reorders rows within documents every
// step, which then copies nothing of the memory side; only when a document finishes are the remaining documents'
// rows compacted. Reorders that break the grouping (rows of different documents interleaved unevenly) fall back
// to one memory row per decoder row.
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "pyramidion/nn/copy_attention.h"

namespace pyramidion {

struct DecoderLayerCache {
  // Self-attention, (batch, heads, capacity, head_dim); steps [0, self_length) are valid. Undefined before the
  // first step. Views of the valid part: self_keys() / self_values().
  torch::Tensor self_key;
  torch::Tensor self_value;
  int64_t self_length = 0;
  // Cross-attention, (memory_rows, heads, memory_len, head_dim); decoder row r uses memory row r / memory_group.
  torch::Tensor cross_key;
  torch::Tensor cross_value;

  torch::Tensor self_keys() const { return self_key.narrow(2, 0, self_length); }      // (batch, heads, steps, hd)
  torch::Tensor self_values() const { return self_value.narrow(2, 0, self_length); }  // (batch, heads, steps, hd)
  // Appends one step's keys/values (batch, heads, 1, head_dim). Writes in place (buffer) unless autograd records
  // the step, where it concatenates: in-place writes would invalidate tensors saved for backward.
  void append_self(const torch::Tensor& key, const torch::Tensor& value);
};

class DecoderCache {
 public:
  DecoderCache() = default;
  // memory_mask (batch, memory_len) bool, true = real encoder state; one decoder row per memory row to begin.
  // copy: the memory's copy sources (batch, memory_len, span) for copy attention, or undefined.
  DecoderCache(std::vector<DecoderLayerCache> layers, torch::Tensor memory_mask, CopySources copy = {});

  // Keeps row rows[i] of the current batch as row i (beam search: rows (batch * beam) int64, the beams that
  // survive). Rows may repeat and their count may differ from the current batch size, so the same call expands
  // a per-document cache to `beam` rows: reorder(arange(batch).repeat_interleave(beam)).
  void reorder(const torch::Tensor& rows);

  int64_t length() const { return length_; }  // tokens decoded so far (the next token's position)
  int64_t batch_size() const { return static_cast<int64_t>(row_memory_.size()); }  // decoder rows

  // Memory side: (memory_rows, memory_len) bool; decoder row r attends to memory row r / memory_group().
  const torch::Tensor& memory_mask() const { return memory_mask_; }
  // What the cross-attention applies: memory_mask(), or undefined when no memory state is padding (decided once
  // when the cache is built; reorders only select rows, so it stays true).
  torch::Tensor attention_mask() const { return memory_padded_ ? memory_mask_ : torch::Tensor(); }
  int64_t memory_group() const { return memory_group_; }
  // Copy sources per memory row (memory_rows, memory_len, span), reordered with the memory; undefined without copy.
  const CopySources& copy_sources() const { return copy_; }

  // For the decoder layers.
  std::vector<DecoderLayerCache>& layers() { return layers_; }
  const std::vector<DecoderLayerCache>& layers() const { return layers_; }
  void advance(int64_t steps = 1) { length_ += steps; }

 private:
  std::vector<DecoderLayerCache> layers_;
  torch::Tensor memory_mask_;
  CopySources copy_;
  std::vector<int64_t> row_memory_;  // memory row of each decoder row (row_memory_[r] == r / memory_group_)
  int64_t memory_group_ = 1;
  bool memory_padded_ = true;
  int64_t length_ = 0;
};

}  // namespace pyramidion
