#pragma once
// What the encoder hands to the decoder (and to diagnostics).
#include <torch/types.h>

#include <vector>

#include "pyramidion/nn/copy_attention.h"
#include "pyramidion/nn/representation_pooler.h"

namespace pyramidion {

struct EncoderOutput {
  torch::Tensor states;                // (batch, memory_len, dim); padding rows are zero
  torch::Tensor mask;                  // (batch, memory_len) bool, true = real
  std::vector<PoolingRecord> pooling;  // one per pooling layer, in layer order
  CopySources copy;                    // models with copy attention: the source ids each slot is mixed from

  // Keeps document rows[i] as row i: rows (new_batch) int64, e.g. arange(batch).repeat_interleave(beam).
  EncoderOutput index_select(const torch::Tensor& rows) const;

  int64_t batch_size() const { return states.size(0); }
  int64_t memory_length() const { return states.size(1); }
};

}  // namespace pyramidion
