#include "summary_links.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "pyramidion/data/any_tokenizer.h"
#include "word_alignment.h"

namespace pyramidion::explain {

torch::Tensor sentence_attention_mass(const torch::Tensor& attention, const torch::Tensor& source_index,
                                      const torch::Tensor& source_weight, const std::vector<int64_t>& position_sentence,
                                      int64_t sentences) {
  if (attention.size(1) != source_index.size(0))
    throw std::logic_error("highlight: cross-attention over " + std::to_string(attention.size(1)) +
                           " slots but the memory has " + std::to_string(source_index.size(0)));
  std::vector<int64_t> to_sentence = position_sentence;
  to_sentence.push_back(sentences);  // the padding index below
  const int64_t padding = static_cast<int64_t>(position_sentence.size());
  const torch::Tensor sentence_of = torch::tensor(to_sentence, torch::kLong);  // (positions + 1)
  const torch::Tensor columns =
      sentence_of.index_select(0, source_index.masked_fill(source_index.lt(0), padding).reshape({-1}));  // (M*span)
  const torch::Tensor a = attention.to(torch::kDouble);
  const torch::Tensor mass = (a.unsqueeze(-1) * source_weight.unsqueeze(0)).reshape({a.size(0), -1});  // (T, M*span)
  torch::Tensor out = torch::zeros({a.size(0), sentences + 1}, torch::kDouble);
  out.scatter_add_(1, columns.unsqueeze(0).expand({a.size(0), columns.size(0)}), mass);
  return out;
}

std::vector<SummaryLink> strongest_links(const torch::Tensor& mass, int64_t keep) {
  std::vector<SummaryLink> links;
  const int64_t sentences = mass.size(0) - 1;
  if (sentences <= 0) return links;
  const double total = mass.sum().item<double>();
  const torch::Tensor real = mass.narrow(0, 0, sentences).contiguous();
  keep = std::min<int64_t>(keep, sentences);
  auto top = torch::topk(real, keep);
  const torch::Tensor values = std::get<0>(top).contiguous();
  const torch::Tensor where = std::get<1>(top).contiguous();
  for (int64_t k = 0; k < keep; ++k) {
    const double v = values.data_ptr<double>()[k];
    if (!(v > 0) || total <= 0) break;
    links.push_back({where.data_ptr<int64_t>()[k], v / total});
  }
  return links;
}

std::vector<HighlightSummaryWord> link_summary_words(const data::Tokenizer& tokenizer, const DocumentSummary& summary,
                                                     const PoolingTrace& trace, const std::vector<HighlightWord>& words,
                                                     int64_t sentences, int64_t tokens, int64_t links_per_word) {
  std::vector<HighlightSummaryWord> out;
  if (summary.hypotheses.empty()) return out;
  const auto& best = summary.hypotheses.front();
  const TokenGroups groups = group_tokens(tokenizer, best.tokens, best.tokens.size());
  torch::Tensor mass;  // (summary_tokens, sentences + 1)
  if (summary.cross_attention.defined()) {
    std::vector<int64_t> position_sentence(static_cast<size_t>(tokens), sentences);
    for (const auto& w : words)
      for (int64_t k = 0; k < w.tokens; ++k) position_sentence[static_cast<size_t>(w.first_token + k)] = w.sentence;
    torch::Tensor index, weight;  // (memory_len, span)
    if (!trace.layers.empty()) {
      index = trace.layers.back().source_index;
      weight = trace.layers.back().source_weight;
    } else {  // nothing pooled: memory slot p is source position p
      index = torch::arange(tokens, torch::kLong).unsqueeze(1);
      weight = torch::ones({tokens, 1}, torch::kDouble);
    }
    mass = sentence_attention_mass(summary.cross_attention, index, weight, position_sentence, sentences);
  }
  int64_t sentence = 0;  // of the summary: a <sep> starts the next
  size_t next_break = 0;
  for (size_t i = 0; i < groups.groups.size(); ++i) {
    while (next_break < groups.sentence_breaks.size() &&
           groups.sentence_breaks[next_break] == static_cast<int64_t>(i)) {
      ++next_break;
      ++sentence;
    }
    HighlightSummaryWord w;
    w.text = decode_group(tokenizer, best.tokens, groups.groups[i]);
    w.sentence = sentence;
    if (summary.copy_gate.defined()) {
      double generated = 0;
      for (int64_t t : groups.groups[i]) generated += summary.copy_gate[t].item<double>();
      w.copied = 1.0 - generated / static_cast<double>(std::max<size_t>(1, groups.groups[i].size()));
    }
    if (mass.defined() && sentences > 0) {
      const torch::Tensor rows = torch::tensor(groups.groups[i], torch::kLong);
      w.sources = strongest_links(mass.index_select(0, rows).sum(0), links_per_word);
    }
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace pyramidion::explain
