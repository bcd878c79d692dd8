#pragma once
// The highlight view's third part: the summary's words, each linked to the source sentences the decoder's
// cross-attention drew on most, traced through the final memory's composed pooling weights to source positions.
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/explain/highlight.h"
#include "pyramidion/nn/pooling_trace.h"

namespace pyramidion {
namespace data {
class Tokenizer;
}

namespace explain {

// (summary_tokens, sentences + 1) float64: each summary token's attention mass per source sentence; the last column
// collects what went to positions of no sentence (EOS, separators, padding).
//   attention:         (summary_tokens, memory_len)
//   source_index:      (memory_len, span) int64 source positions of each memory slot, -1 = padding
//   source_weight:     (memory_len, span) float64
//   position_sentence: per source position, its sentence or `sentences` (none)
torch::Tensor sentence_attention_mass(const torch::Tensor& attention, const torch::Tensor& source_index,
                                      const torch::Tensor& source_weight, const std::vector<int64_t>& position_sentence,
                                      int64_t sentences);

// The `keep` sentences of most mass, of a word's `mass` (sentences + 1) (the last entry counts towards the total
// only); shares of the total; stops at the first sentence without mass.
std::vector<SummaryLink> strongest_links(const torch::Tensor& mass, int64_t keep);

// The words of summary.hypotheses[0] (none when there is no hypothesis), their summary sentence, copied share
// (copy-attention models) and links to the source sentences of `words` (first_token / tokens spans over `tokens`
// source positions, the memory traced by `trace`; nothing pooled: memory slot p is position p).
std::vector<HighlightSummaryWord> link_summary_words(const data::Tokenizer& tokenizer, const DocumentSummary& summary,
                                                     const PoolingTrace& trace, const std::vector<HighlightWord>& words,
                                                     int64_t sentences, int64_t tokens, int64_t links_per_word);

}  // namespace explain
}  // namespace pyramidion
