#pragma once
// Copy attention (pointer-generator, See et al. 2017; fairseq's transformer_pointer_generator) composed through
// trainable pooling. The decoder attends to memory slots; with pooling every slot is a known mixture of source
// positions (the successive-halving top-k's mixing weights, composed across pooling layers), so the copy
// distribution over the vocabulary is attention x provenance scattered onto the source tokens' ids:
//
//   copy[q, v] = sum_j attention[q, j] * sum_e weight[j, e] * [id[j, e] == v]
//   p(v)       = p_gen * softmax(logits)[v] + (1 - p_gen) * copy[v]
//
// The provenance weights are differentiable in the pooling scores, so the copy loss reaches the scorers. A slot's
// weights are renormalized over its real source entries (the top-k also mixes in the zero vectors it pads with;
// that share carries no token), so every copy row of a query that attends to real slots sums to 1.
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "pyramidion/nn/pooler.h"

namespace pyramidion {

// Which source positions make up each slot of a sequence of states, with which weights.
struct SlotProvenance {
  torch::Tensor index;   // (batch, slots, span) int64 source position, -1 = no token (padding)
  torch::Tensor weight;  // (batch, slots, span) floating point, 0 where index is -1
};

// What copy attention reads of the encoder memory: per slot, source token ids and their weights.
struct CopySources {
  torch::Tensor ids;      // (batch, memory_len, span) int64 token ids (pad id where the entry is empty)
  torch::Tensor weights;  // (batch, memory_len, span) floating point; real slots' rows sum to 1, padding slots 0

  bool defined() const { return ids.defined(); }
  // Keeps document rows[i] as row i: rows (new_batch) int64.
  CopySources index_select(const torch::Tensor& rows) const;
};

// The identity provenance of the source itself: mask (batch, src_len) bool -> slot i = position i (span 1).
SlotProvenance source_provenance(const torch::Tensor& mask);

// The provenance after one pooling layer, given the provenance of its inputs: input (batch, n_in, span) ->
// (batch, min(width, n_in), span * 2^rounds). Mirrors pool_documents (per-document round counts, pass-through of
// documents no longer than the width) and keeps autograd to record.scores (successive_halving_topk_mixing).
SlotProvenance pool_provenance(const SlotProvenance& input, const PoolingRecord& record);

// The copy sources of a memory: provenance (batch, memory_len, span) in source positions, source (batch, src_len)
// int64 ids. Weights are renormalized per slot over its real entries.
CopySources copy_sources(const SlotProvenance& provenance, const torch::Tensor& source, int64_t pad_id);

// How blurred the slots are: the entropy (nats) of each real slot's source weights, averaged over the real slots of
// the batch -> () in the weights' dtype, with autograd to the pooling scores (0 when every slot is one source token,
// as without pooling). training.pooling_sharpening adds it to the loss; validation reports it.
torch::Tensor provenance_entropy(const CopySources& sources);

// attention (batch, queries, memory_len) -> copy distribution (batch, queries, vocab_size) in the wider of the two
// dtypes (float32 at least). Row q sums to sum_j attention[q, j] (1 for a softmax over real slots).
torch::Tensor copy_distribution(const torch::Tensor& attention, const CopySources& sources, int64_t vocab_size);

// The pointer-generator mixture as log-probabilities (batch, queries, vocab) float32 or float64:
// logits (batch, queries, vocab), p_gen (batch, queries, 1) in (0, 1), attention (batch, queries, memory_len).
// Probabilities are clamped to [1e-10, 1] before the log (as fairseq's pointer-generator).
torch::Tensor pointer_generator_log_probs(const torch::Tensor& logits, const torch::Tensor& p_gen,
                                          const torch::Tensor& attention, const CopySources& sources);

}  // namespace pyramidion
