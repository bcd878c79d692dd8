#pragma once
// The highlight view's second part: how much of each pooling layer's output each source token, word and sentence
// makes up (the shares of docs/highlight.md), and the sentences ranked by the last layer's.
#include <cstdint>
#include <vector>

#include "pyramidion/explain/highlight.h"
#include "pyramidion/nn/pooling_trace.h"

namespace pyramidion::explain {

struct TokenShares {
  std::vector<HighlightLayer> layers;          // one per pooling layer of the trace
  std::vector<std::vector<double>> per_token;  // (tokens, layers): the token's share of the layer's slots
};

// `tokens` source tokens (EOS last, the first pooler's input). Throws std::logic_error when the trace read another
// number of positions. A trace without layers gives no layers and empty rows.
TokenShares token_shares(const PoolingTrace& trace, int64_t tokens);

// Sums shares upwards: each word's from its tokens (HighlightToken::word), each sentence's from its words; sets the
// sentences' first_word / words and ranks them by the last layer's share (stable: document order among equals, and
// when nothing is pooled). Needs h.layers, h.tokens (shares, word), h.words (sentence) and h.sentences (text);
// sentences without words stay, so indices match the input's.
void sum_shares(DocumentHighlight& h);

}  // namespace pyramidion::explain
