#include "pooling_shares.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace pyramidion::explain {

TokenShares token_shares(const PoolingTrace& trace, int64_t tokens) {
  if (!trace.layers.empty() && trace.source_length != tokens)
    throw std::logic_error("highlight: the first pooler read " + std::to_string(trace.source_length) +
                           " positions but the document has " + std::to_string(tokens) + " tokens");
  TokenShares out;
  out.per_token.resize(static_cast<size_t>(tokens));
  for (size_t l = 0; l < trace.layers.size(); ++l) {
    const auto& t = trace.layers[l];
    const torch::Tensor shares = trace.token_shares(l).contiguous();  // (tokens) float64
    const double* share = shares.data_ptr<double>();
    HighlightLayer info;
    info.layer = t.layer;
    info.width = t.width;
    info.input_length = t.input_length;
    info.output_length = t.output_length;
    info.hard = t.hard;
    info.padding_share = trace.padding_share(l);
    info.end_of_document_share = share[tokens - 1];  // EOS, the last token
    out.layers.push_back(info);
    for (int64_t p = 0; p < tokens; ++p) out.per_token[static_cast<size_t>(p)].push_back(share[p]);
  }
  return out;
}

void sum_shares(DocumentHighlight& h) {
  const size_t layers = h.layers.size();
  for (auto& w : h.words) w.shares.assign(layers, 0.0);
  for (const auto& t : h.tokens)
    if (t.word >= 0)
      for (size_t l = 0; l < layers; ++l) h.words[static_cast<size_t>(t.word)].shares[l] += t.shares[l];
  for (auto& s : h.sentences) {
    s.shares.assign(layers, 0.0);
    s.first_word = static_cast<int64_t>(h.words.size());
    s.words = 0;
  }
  for (size_t i = h.words.size(); i-- > 0;) {
    auto& s = h.sentences[static_cast<size_t>(h.words[i].sentence)];
    s.first_word = static_cast<int64_t>(i);
    ++s.words;
    for (size_t l = 0; l < layers; ++l) s.shares[l] += h.words[i].shares[l];
  }
  h.ranking.resize(h.sentences.size());
  std::iota(h.ranking.begin(), h.ranking.end(), 0);
  if (layers > 0)
    std::stable_sort(h.ranking.begin(), h.ranking.end(), [&](int64_t a, int64_t b) {
      return h.sentences[static_cast<size_t>(a)].shares.back() > h.sentences[static_cast<size_t>(b)].shares.back();
    });
  for (size_t r = 0; r < h.ranking.size(); ++r)
    h.sentences[static_cast<size_t>(h.ranking[r])].rank = static_cast<int64_t>(r);
}

}  // namespace pyramidion::explain
