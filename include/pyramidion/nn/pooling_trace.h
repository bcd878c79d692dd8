#pragma once
// Sparse provenance of a document's pooled memory: which source positions each pooled slot was mixed from, with
// which weights, composed across pooling layers. Scales to long inputs (O(n) entries per layer, where the dense
// pooling_provenance() is n_in x n_out), so the highlight view works on 8k-16k-token documents.
//
// What is exact and what is an attribution:
// - One pooling layer: slot j of its output is exactly sum_e weight[j, e] * input[index[j, e]] (the operator is
//   a weighted mix of its inputs); `index`/`weight` reproduce it to rounding (the tests check 1e-9 in float64).
// - Across layers, the composed weights (`source_index` / `source_weight`) are the operators' mixing weights
//   multiplied through: exact for the pooling operators themselves, but the encoder layers between two poolers
//   mix states too (self-attention), which the composition does not follow. So position p of the first
//   pooler's input stands for "the encoder state at p", not for the token alone: the composed share is an
//   attribution of the final memory to source positions by the poolers' choices, not a decomposition of it.
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "pyramidion/nn/pooler.h"

namespace pyramidion {

struct PoolingLayerTrace {
  int64_t layer = -1;         // encoder layer after which the pooler ran
  int64_t width = 0;          // slots it keeps at most
  int64_t input_length = 0;   // its real inputs (the first pooler: the source tokens, EOS included)
  int64_t output_length = 0;  // min(width, input_length): the slots it produced
  bool hard = false;          // exact top-k ran (one input per slot)
  // Output slot j = sum_e weight[j, e] * (input index[j, e]); index -1 = the operator's zero padding. Rows sum to 1.
  torch::Tensor index;   // (output_length, span) int64 into this layer's inputs
  torch::Tensor weight;  // (output_length, span) float64
  // The same slots in terms of the first pooler's input positions (the product of the layers' mixing weights).
  torch::Tensor source_index;   // (output_length, source_span) int64, -1 = padding at some layer
  torch::Tensor source_weight;  // (output_length, source_span) float64, rows sum to 1
};

struct PoolingTrace {
  int64_t source_length = 0;              // the first pooler's real inputs (0 when nothing was pooled)
  std::vector<PoolingLayerTrace> layers;  // in layer order; empty for a model without pooling layers

  // (source_length) float64: the share of pooling layer `l`'s output each source position makes up,
  // sum over slots of its composed weight / output_length. Sums to 1 - padding_share(l).
  torch::Tensor token_shares(size_t l) const;
  // The share of layer l's output that went to the operators' zero padding (in [0, 1)).
  double padding_share(size_t l) const;
  // (output_length, source_length) float64 dense composed weights (tests, small inputs).
  torch::Tensor dense(size_t l) const;
  // (output_length, input_length) float64 dense local weights of layer l over its own inputs.
  torch::Tensor dense_local(size_t l) const;
};

// Traces document `row` of a batch's pooling records (EncoderOutput::pooling, or DocumentSummary::pooling with
// batch 1); the row's padding is dropped, so the trace is the document's own (pool_documents never lets the
// batch change a document's pooling). Works on the recorded scores only: no states, no grad.
PoolingTrace trace_pooling(const std::vector<PoolingRecord>& records, int64_t row = 0);

}  // namespace pyramidion
