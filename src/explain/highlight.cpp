#include "pyramidion/explain/highlight.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "pooling_shares.h"
#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/nn/pooling_trace.h"
#include "pyramidion/util/text_predicates.h"
#include "summary_links.h"
#include "word_alignment.h"

namespace pyramidion {
namespace {

using explain::ends_sentence;

double round_digits(double x, int digits) {
  if (digits <= 0 || x == 0 || !std::isfinite(x)) return x;
  const double scale = std::pow(10.0, digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(x)))));
  return std::round(x * scale) / scale;
}

nlohmann::json shares_json(const std::vector<double>& shares, int digits) {
  nlohmann::json out = nlohmann::json::array();
  for (double s : shares) out.push_back(round_digits(s, digits));
  return out;
}

// One document's highlight from what the encoder read (`ids`, EOS last) and the summary generated from it, in three
// parts: align (tokens -> the text's words and sentences), shares (pooled memory -> tokens, words, sentences),
// links (summary words -> source sentences).
DocumentHighlight build(const Summarizer& summarizer, const std::vector<std::string>& sentences,
                        const std::vector<int64_t>& ids, const DocumentSummary& summary,
                        const HighlightOptions& options) {
  const auto& tokenizer = summarizer.tokenizer();
  const int64_t n = static_cast<int64_t>(ids.size());  // EOS included
  const PoolingTrace trace = trace_pooling(summary.pooling, 0);
  explain::TokenShares shares = explain::token_shares(trace, n);
  explain::WordAlignment alignment = explain::align_words(tokenizer, sentences, ids);

  DocumentHighlight h;
  h.source_tokens = summary.source_tokens;
  h.truncated = summary.truncated;
  h.words_aligned = alignment.aligned;
  h.layers = std::move(shares.layers);
  h.tokens.resize(static_cast<size_t>(n));
  for (size_t t = 0; t < h.tokens.size(); ++t) {
    h.tokens[t].piece = tokenizer.id_to_piece(ids[t]);
    h.tokens[t].word = alignment.token_word[t];
    h.tokens[t].shares = std::move(shares.per_token[t]);
  }
  h.words = std::move(alignment.words);
  h.sentences.resize(alignment.sentences.size());
  for (size_t s = 0; s < h.sentences.size(); ++s) h.sentences[s].text = std::move(alignment.sentences[s]);
  explain::sum_shares(h);

  if (!summary.hypotheses.empty()) h.summary = summary.hypotheses.front().text;
  h.summary_words = explain::link_summary_words(
      tokenizer, summary, trace, h.words, static_cast<int64_t>(h.sentences.size()), n, options.links_per_summary_word);
  return h;
}

}  // namespace

std::vector<std::string> split_sentences(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  auto close = [&] {
    if (!current.empty()) out.push_back(current);
    current.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\n') {
      close();
      ++i;
      continue;
    }
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !is_space(text[j])) ++j;
    const std::string word = text.substr(i, j - i);
    current += (current.empty() ? "" : " ") + word;
    if (ends_sentence(word)) close();
    i = j;
  }
  close();
  return out;
}

namespace {

// The source ids Summarizer::summarize_sentences gives the encoder for `document` (the model's framing, EOS,
// truncation), and whether it was cut: the Summarizer's own encoding.
std::vector<int64_t> encode_source(const Summarizer& summarizer, const std::vector<std::string>& document,
                                   const GenerationOptions& generation, bool& truncated) {
  return summarizer.encode_source(document, generation, truncated);
}

// What the encoder read of `source`: EOS appended when missing, cut to the summary's source_tokens.
std::vector<int64_t> read_tokens(const Summarizer& summarizer, std::vector<int64_t> source,
                                 const DocumentSummary& summary) {
  const int64_t eos = summarizer.config().eos_id;
  if (source.empty() || source.back() != eos) source.push_back(eos);
  if (static_cast<int64_t>(source.size()) > summary.source_tokens) {
    source.resize(static_cast<size_t>(std::max<int64_t>(1, summary.source_tokens)));
    source.back() = eos;
  }
  return source;
}

std::vector<std::string> document_sentences(const std::vector<std::string>& document, const HighlightOptions& options) {
  return (document.size() == 1 && options.split_single_text) ? split_sentences(document[0]) : document;
}

bool blank_document(const std::vector<std::string>& document) {
  return std::all_of(document.begin(), document.end(), [](const std::string& s) { return blank(s); });
}

}  // namespace

std::vector<DocumentHighlight> highlight_documents(const Summarizer& summarizer,
                                                   const std::vector<std::vector<std::string>>& documents,
                                                   const HighlightOptions& options) {
  GenerationOptions generation = options.generation;
  generation.return_pooling = true;
  generation.return_cross_attention = true;
  validate(generation);
  if (options.links_per_summary_word < 0) throw std::invalid_argument("links_per_summary_word must be >= 0");
  std::vector<std::vector<int64_t>> sources(documents.size());
  std::vector<char> truncated(documents.size(), 0);
  for (size_t d = 0; d < documents.size(); ++d) {
    if (blank_document(documents[d]))
      throw std::invalid_argument(documents.size() == 1 ? "empty document"
                                                        : "document " + std::to_string(d) + ": empty document");
    bool cut = false;
    sources[d] = encode_source(summarizer, documents[d], generation, cut);
    truncated[d] = cut;
  }
  auto results = summarizer.summarize_tokens(sources, generation);
  std::vector<DocumentHighlight> out;
  out.reserve(documents.size());
  for (size_t d = 0; d < documents.size(); ++d) {
    results[d].truncated = results[d].truncated || truncated[d];
    out.push_back(build(summarizer, document_sentences(documents[d], options),
                        read_tokens(summarizer, sources[d], results[d]), results[d], options));
  }
  return out;
}

DocumentHighlight highlight_summary(const Summarizer& summarizer, const std::vector<std::string>& sentences,
                                    const DocumentSummary& summary, const HighlightOptions& options) {
  if (blank_document(sentences)) throw std::invalid_argument("empty document");
  if (summary.pooling.empty() && !summarizer.config().pooling.schedule.empty())
    throw std::logic_error("highlight_summary: the summary was generated without GenerationOptions::return_pooling");
  bool cut = false;
  std::vector<int64_t> source = encode_source(summarizer, sentences, options.generation, cut);
  return build(summarizer, document_sentences(sentences, options), read_tokens(summarizer, std::move(source), summary),
               summary, options);
}

DocumentHighlight highlight_document(const Summarizer& summarizer, const std::vector<std::string>& sentences,
                                     const HighlightOptions& options) {
  return highlight_documents(summarizer, {sentences}, options).front();
}

nlohmann::json highlight_json(const DocumentHighlight& h, bool include_tokens, int digits) {
  nlohmann::json out = nlohmann::json::object();
  if (!h.id.empty()) out["id"] = h.id;
  out["source_tokens"] = h.source_tokens;
  out["truncated"] = h.truncated;
  out["words_aligned"] = h.words_aligned;
  out["pooled"] = !h.layers.empty();
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : h.layers)
    layers.push_back({{"layer", l.layer},
                      {"width", l.width},
                      {"input_length", l.input_length},
                      {"output_length", l.output_length},
                      {"hard", l.hard},
                      {"padding_share", round_digits(l.padding_share, digits)},
                      {"end_of_document_share", round_digits(l.end_of_document_share, digits)}});
  out["layers"] = std::move(layers);
  if (include_tokens) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& t : h.tokens)
      tokens.push_back({{"piece", t.piece}, {"word", t.word}, {"shares", shares_json(t.shares, digits)}});
    out["tokens"] = std::move(tokens);
  }
  nlohmann::json words = nlohmann::json::array();
  for (const auto& w : h.words)
    words.push_back({{"text", w.text},
                     {"sentence", w.sentence},
                     {"first_token", w.first_token},
                     {"tokens", w.tokens},
                     {"shares", shares_json(w.shares, digits)}});
  out["words"] = std::move(words);
  nlohmann::json sentences = nlohmann::json::array();
  for (const auto& s : h.sentences)
    sentences.push_back({{"text", s.text},
                         {"first_word", s.first_word},
                         {"words", s.words},
                         {"rank", s.rank},
                         {"shares", shares_json(s.shares, digits)}});
  out["sentences"] = std::move(sentences);
  out["ranking"] = h.ranking;
  out["summary"] = h.summary;
  nlohmann::json summary_words = nlohmann::json::array();
  for (const auto& w : h.summary_words) {
    nlohmann::json sources = nlohmann::json::array();
    for (const auto& s : w.sources)
      sources.push_back({{"sentence", s.sentence}, {"share", round_digits(s.share, digits)}});
    nlohmann::json word = {{"text", w.text}, {"sentence", w.sentence}, {"sources", std::move(sources)}};
    if (w.copied >= 0) word["copied"] = round_digits(w.copied, digits);
    summary_words.push_back(std::move(word));
  }
  out["summary_words"] = std::move(summary_words);
  return out;
}

}  // namespace pyramidion
