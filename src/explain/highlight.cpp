#include "pyramidion/explain/highlight.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "pyramidion/data/prepare.h"
#include "pyramidion/data/tokenizer.h"
#include "pyramidion/nn/pooling_trace.h"

namespace pyramidion {
namespace {

const std::string kWordStart = "\xE2\x96\x81";  // U+2581, SentencePiece's word-boundary mark

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    size_t j = i;
    while (j < text.size() && !is_space(text[j])) ++j;
    if (j > i) words.push_back(text.substr(i, j - i));
    i = j;
  }
  return words;
}

// A word that closes a sentence: ends in . ! ? possibly followed by closing quotes or brackets.
bool ends_sentence(const std::string& word) {
  size_t end = word.size();
  while (end > 0 && (word[end - 1] == '"' || word[end - 1] == '\'' || word[end - 1] == ')' || word[end - 1] == ']'))
    --end;
  return end > 0 && (word[end - 1] == '.' || word[end - 1] == '!' || word[end - 1] == '?');
}

bool blank(const std::string& text) { return std::all_of(text.begin(), text.end(), is_space); }


// Token ids grouped into words: a group starts at a piece beginning with U+2581 (or after a separator).
struct TokenGroups {
  std::vector<std::vector<int64_t>> groups;  // token positions
  std::vector<int64_t> sentence_breaks;      // group indices that start a new sentence (after a <sep>)
};
TokenGroups group_tokens(const data::SentencePieceTokenizer& tok, const std::vector<int64_t>& ids, size_t count) {
  TokenGroups g;
  bool after_separator = true;
  for (size_t t = 0; t < count; ++t) {
    const int64_t id = ids[t];
    if (id == tok.sentence_separator_id()) {
      after_separator = true;
      if (!g.groups.empty()) g.sentence_breaks.push_back(static_cast<int64_t>(g.groups.size()));
      continue;
    }
    if (id == tok.eos_id() || id == tok.bos_id() || id == tok.pad_id()) continue;
    const std::string piece = tok.id_to_piece(id);
    if (after_separator || g.groups.empty() || piece.rfind(kWordStart, 0) == 0) g.groups.emplace_back();
    after_separator = false;
    g.groups.back().push_back(static_cast<int64_t>(t));
  }
  return g;
}

std::string decode_group(const data::SentencePieceTokenizer& tok, const std::vector<int64_t>& ids,
                         const std::vector<int64_t>& positions) {
  std::vector<int64_t> group;
  for (int64_t p : positions) group.push_back(ids[static_cast<size_t>(p)]);
  std::string text = tok.decode(group);
  const size_t a = text.find_first_not_of(' '), b = text.find_last_not_of(' ');
  return a == std::string::npos ? text : text.substr(a, b - a + 1);
}

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

DocumentHighlight build(const Summarizer& summarizer, const std::vector<std::string>& sentences,
                        const std::vector<int64_t>& ids, const DocumentSummary& summary, const HighlightOptions& options) {
  const auto& tok = summarizer.tokenizer();
  DocumentHighlight h;
  h.source_tokens = summary.source_tokens;
  h.truncated = summary.truncated;
  const PoolingTrace trace = trace_pooling(summary.pooling, 0);
  const int64_t n = static_cast<int64_t>(ids.size());  // EOS included
  if (!trace.layers.empty() && trace.source_length != n)
    throw std::logic_error("highlight: the first pooler read " + std::to_string(trace.source_length) +
                           " positions but the document has " + std::to_string(n) + " tokens");
  const size_t layers = trace.layers.size();
  std::vector<torch::Tensor> shares;  // per layer (n) float64
  for (size_t l = 0; l < layers; ++l) {
    const auto& t = trace.layers[l];
    shares.push_back(trace.token_shares(l).contiguous());
    HighlightLayer info;
    info.layer = t.layer;
    info.width = t.width;
    info.input_length = t.input_length;
    info.output_length = t.output_length;
    info.hard = t.hard;
    info.padding_share = trace.padding_share(l);
    info.end_of_document_share = shares.back()[n - 1].item<double>();
    h.layers.push_back(info);
  }
  auto share = [&](size_t l, int64_t position) { return shares[l].data_ptr<double>()[position]; };

  // Tokens and the words they make up.
  h.tokens.resize(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    h.tokens[static_cast<size_t>(t)].piece = tok.id_to_piece(ids[static_cast<size_t>(t)]);
    for (size_t l = 0; l < layers; ++l) h.tokens[static_cast<size_t>(t)].shares.push_back(share(l, t));
  }
  std::vector<std::pair<std::string, int64_t>> text_words;  // (word, sentence)
  for (size_t s = 0; s < sentences.size(); ++s)
    for (auto& w : split_words(sentences[s])) text_words.emplace_back(std::move(w), static_cast<int64_t>(s));
  // SentencePiece segments each whitespace-separated word on its own, so the document's pieces are the words'
  // pieces one after the other: encoding word by word aligns them (unknown words included, which keep no U+2581
  // mark in their piece). Checked id by id; when the normalizer breaks it, words are rebuilt from the pieces.
  const int64_t real = n - 1;  // tokens before EOS
  std::vector<std::vector<int64_t>> word_tokens;  // token positions per word
  {
    int64_t t = 0;
    bool aligned = true;
    for (const auto& [text, sentence] : text_words) {
      word_tokens.emplace_back();
      for (int64_t id : tok.encode(text)) {
        if (t >= real) break;  // cut at max_source_positions
        if (ids[static_cast<size_t>(t)] != id) {
          aligned = false;
          break;
        }
        word_tokens.back().push_back(t++);
      }
      if (!aligned) break;
    }
    aligned = aligned && t == real && (word_tokens.size() == text_words.size());
    h.words_aligned = aligned;
  }
  std::vector<std::string> sentence_texts;
  if (h.words_aligned) {
    sentence_texts = sentences;
    for (const auto& [text, sentence] : text_words) {
      HighlightWord w;
      w.text = text;
      w.sentence = sentence;
      h.words.push_back(std::move(w));
    }
  } else {
    // Rebuilt from the pieces (a piece starting with U+2581 starts a word), sentences split by the text rule.
    const TokenGroups groups = group_tokens(tok, ids, static_cast<size_t>(n));
    word_tokens = groups.groups;
    int64_t sentence = 0;
    size_t next_break = 0;
    bool open = false;
    for (size_t i = 0; i < groups.groups.size(); ++i) {
      if (next_break < groups.sentence_breaks.size() && groups.sentence_breaks[next_break] == static_cast<int64_t>(i)) {
        ++next_break;
        if (open) ++sentence;
        open = false;
      }
      HighlightWord w;
      w.text = decode_group(tok, ids, groups.groups[i]);
      w.sentence = sentence;
      open = true;
      if (ends_sentence(w.text)) {
        ++sentence;
        open = false;
      }
      h.words.push_back(std::move(w));
    }
    sentence_texts.assign(static_cast<size_t>(sentence + (open ? 1 : 0)), "");
    for (const auto& w : h.words) {
      auto& s = sentence_texts[static_cast<size_t>(w.sentence)];
      s += (s.empty() ? "" : " ") + w.text;
    }
  }
  for (size_t i = 0; i < h.words.size(); ++i) {
    auto& w = h.words[i];
    w.shares.assign(layers, 0.0);
    if (i >= word_tokens.size() || word_tokens[i].empty()) continue;  // never read (or no piece at all)
    w.first_token = word_tokens[i].front();
    w.tokens = static_cast<int64_t>(word_tokens[i].size());
    for (int64_t t : word_tokens[i]) {
      h.tokens[static_cast<size_t>(t)].word = static_cast<int64_t>(i);
      for (size_t l = 0; l < layers; ++l) w.shares[l] += share(l, t);
    }
  }
  // Sentences (empty ones, e.g. blank list entries, stay with zero words so indices match the input).
  h.sentences.resize(sentence_texts.size());
  for (size_t s = 0; s < sentence_texts.size(); ++s) {
    h.sentences[s].text = sentence_texts[s];
    h.sentences[s].shares.assign(layers, 0.0);
    h.sentences[s].first_word = static_cast<int64_t>(h.words.size());
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
  for (size_t r = 0; r < h.ranking.size(); ++r) h.sentences[static_cast<size_t>(h.ranking[r])].rank = static_cast<int64_t>(r);

  // The summary, its words linked to source sentences through cross-attention and the final memory's trace.
  if (summary.hypotheses.empty()) return h;
  const auto& best = summary.hypotheses.front();
  h.summary = best.text;
  const TokenGroups summary_groups = group_tokens(tok, best.tokens, best.tokens.size());
  std::vector<int64_t> summary_sentence_of(summary_groups.groups.size(), 0);
  {
    int64_t sentence = 0;
    size_t next_break = 0;
    for (size_t i = 0; i < summary_groups.groups.size(); ++i) {
      while (next_break < summary_groups.sentence_breaks.size() &&
             summary_groups.sentence_breaks[next_break] == static_cast<int64_t>(i)) {
        ++next_break;
        ++sentence;
      }
      summary_sentence_of[i] = sentence;
    }
  }
  torch::Tensor sentence_mass;  // (summary_tokens, sentences + 1): last column = EOS, separators, padding
  const int64_t sink = static_cast<int64_t>(h.sentences.size());
  if (summary.cross_attention.defined()) {
    std::vector<int64_t> position_sentence(static_cast<size_t>(n) + 1, sink);
    for (const auto& w : h.words)
      for (int64_t k = 0; k < w.tokens; ++k) position_sentence[static_cast<size_t>(w.first_token + k)] = w.sentence;
    torch::Tensor to_sentence = torch::tensor(position_sentence, torch::kLong);  // (n + 1), n = "padding"
    torch::Tensor index, weight;  // (memory_len, span)
    if (layers > 0) {
      index = trace.layers.back().source_index;
      weight = trace.layers.back().source_weight;
    } else {  // nothing pooled: memory slot p is source position p
      index = torch::arange(n, torch::kLong).unsqueeze(1);
      weight = torch::ones({n, 1}, torch::kDouble);
    }
    torch::Tensor attention = summary.cross_attention.to(torch::kDouble);  // (summary_tokens, memory_len)
    if (attention.size(1) != index.size(0))
      throw std::logic_error("highlight: cross-attention over " + std::to_string(attention.size(1)) +
                             " slots but the memory has " + std::to_string(index.size(0)));
    torch::Tensor columns = to_sentence.index_select(0, index.masked_fill(index.lt(0), n).reshape({-1}));  // (M*span)
    torch::Tensor mass = (attention.unsqueeze(-1) * weight.unsqueeze(0)).reshape({attention.size(0), -1});
    sentence_mass = torch::zeros({attention.size(0), sink + 1}, torch::kDouble);
    sentence_mass.scatter_add_(1, columns.unsqueeze(0).expand({attention.size(0), columns.size(0)}), mass);
  }
  for (size_t i = 0; i < summary_groups.groups.size(); ++i) {
    HighlightSummaryWord w;
    w.text = decode_group(tok, best.tokens, summary_groups.groups[i]);
    w.sentence = summary_sentence_of[i];
    if (summary.copy_gate.defined()) {
      double generated = 0;
      for (int64_t t : summary_groups.groups[i]) generated += summary.copy_gate[t].item<double>();
      w.copied = 1.0 - generated / static_cast<double>(std::max<size_t>(1, summary_groups.groups[i].size()));
    }
    if (sentence_mass.defined() && sink > 0) {
      torch::Tensor rows = torch::tensor(summary_groups.groups[i], torch::kLong);
      torch::Tensor mass = sentence_mass.index_select(0, rows).sum(0);  // (sentences + 1)
      const double total = mass.sum().item<double>();
      torch::Tensor real = mass.narrow(0, 0, sink).contiguous();
      const int64_t keep = std::min<int64_t>(options.links_per_summary_word, sink);
      auto top = torch::topk(real, keep);
      auto values = std::get<0>(top).contiguous();
      auto where = std::get<1>(top).contiguous();
      for (int64_t k = 0; k < keep; ++k) {
        const double v = values.data_ptr<double>()[k];
        if (!(v > 0) || total <= 0) break;
        w.sources.push_back({where.data_ptr<int64_t>()[k], v / total});
      }
    }
    h.summary_words.push_back(std::move(w));
  }
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
std::vector<int64_t> read_tokens(const Summarizer& summarizer, std::vector<int64_t> source, const DocumentSummary& summary) {
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
    for (const auto& t : h.tokens) tokens.push_back({{"piece", t.piece}, {"word", t.word}, {"shares", shares_json(t.shares, digits)}});
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
    for (const auto& s : w.sources) sources.push_back({{"sentence", s.sentence}, {"share", round_digits(s.share, digits)}});
    nlohmann::json word = {{"text", w.text}, {"sentence", w.sentence}, {"sources", std::move(sources)}};
    if (w.copied >= 0) word["copied"] = round_digits(w.copied, digits);
    summary_words.push_back(std::move(word));
  }
  out["summary_words"] = std::move(summary_words);
  return out;
}

}  // namespace pyramidion
