#pragma once
// The highlight view: what a model's poolers kept of a document, as the reader sees it. Runs the Summarizer
// with pooling records and cross-attention, traces the pooling layers (nn/pooling_trace.h), and aggregates the
// per-token shares of the pooled memory to words and sentences of the document's own text; the summary's words
// are linked to the source sentences the decoder's cross-attention drew on most.
//
//   auto summarizer = pyramidion::Summarizer::load("model.pt");
//   auto h = pyramidion::highlight_document(summarizer, {"First sentence .", "Second one ."}, {});
//   for (int64_t s : h.ranking) std::cout << h.sentences[s].text << "\n";   // most kept first
//
// Shares (see docs/highlight.md): for pooling layer l, a source token's share is the part of layer l's output
// slots made of it (the poolers' mixing weights composed down to the first pooler's input positions, divided by
// the number of slots). Per layer, tokens (EOS included) + padding_share sum to 1; words and sentences sum their
// tokens, so sentences + end_of_document_share + padding_share = 1. One pooling layer: exact (slot = weights @
// inputs). Across layers: an attribution (the encoder layers between poolers mix states as well).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pyramidion/decoding/summarizer.h"

namespace pyramidion {

struct HighlightOptions {
  GenerationOptions generation;        // return_pooling / return_cross_attention are switched on
  int64_t links_per_summary_word = 3;  // source sentences kept per summary word (most cross-attention mass first)
  // A document given as one string is split into sentences after words ending in . ! ? (and at line breaks);
  // a list of several strings is taken as its sentences (the arXiv/PubMed `article_text` layout).
  bool split_single_text = true;
};

struct HighlightLayer {
  int64_t layer = -1;  // encoder layer after which the pooler ran
  int64_t width = 0;
  int64_t input_length = 0;
  int64_t output_length = 0;
  bool hard = false;
  double padding_share = 0;          // share of this layer's slots made of the operator's zero padding
  double end_of_document_share = 0;  // share made of the EOS token (belongs to no sentence)
};

struct HighlightToken {
  std::string piece;           // the tokenizer's piece (SentencePiece "▁the", byte-level BPE "Ġthe")
  int64_t word = -1;           // index into words (-1: EOS or a sentence separator)
  std::vector<double> shares;  // per pooling layer
};

struct HighlightWord {
  std::string text;  // the document's own word (or the detokenized pieces, see words_aligned)
  int64_t sentence = 0;
  int64_t first_token = -1;  // -1: never read (the document was cut at max_source_positions)
  int64_t tokens = 0;
  std::vector<double> shares;  // per pooling layer
};

struct HighlightSentence {
  std::string text;
  int64_t first_word = 0;
  int64_t words = 0;
  std::vector<double> shares;  // per pooling layer
  int64_t rank = 0;            // 0 = the most kept in the last pooling layer
};

struct SummaryLink {
  int64_t sentence = 0;  // source sentence
  double share = 0;      // of the word's cross-attention mass (traced to source positions)
};

struct HighlightSummaryWord {
  std::string text;
  int64_t sentence = 0;  // summary sentence
  double copied = -1;    // copy-attention models: 1 - mean p_gen of its tokens (copied share); -1 = none
  // Most mass first, up to HighlightOptions::links_per_summary_word; with copy attention from the pointing
  // distribution (where the copied part came from), else from the mean cross-attention.
  std::vector<SummaryLink> sources;
};

struct DocumentHighlight {
  std::string id;
  int64_t source_tokens = 0;  // tokens the encoder read (EOS included)
  bool truncated = false;
  bool words_aligned = true;           // false: the text and its pieces did not align, words are rebuilt from pieces
  std::vector<HighlightLayer> layers;  // empty: the model pools nothing (no shares anywhere)
  std::vector<HighlightToken> tokens;
  std::vector<HighlightWord> words;
  std::vector<HighlightSentence> sentences;  // document order
  std::vector<int64_t> ranking;              // sentence indices, most kept (last layer) first
  std::string summary;                       // hypotheses[0]; sentences separated by "\n"
  std::vector<HighlightSummaryWord> summary_words;
};

// One document as sentences (a single string is split when options.split_single_text). Throws
// std::invalid_argument "empty document" for a blank one. A model without pooling layers gives layers == {}
// and zero shares (callers say "nothing pooled").
DocumentHighlight highlight_document(const Summarizer& summarizer, const std::vector<std::string>& sentences,
                                     const HighlightOptions& options = {});
// Several documents, generated in the Summarizer's batches (the server's path); results in input order.
std::vector<DocumentHighlight> highlight_documents(const Summarizer& summarizer,
                                                   const std::vector<std::vector<std::string>>& documents,
                                                   const HighlightOptions& options = {});

// For a summary already generated (e.g. by the server's batches) from `sentences` with
// generation.return_pooling and return_cross_attention set: re-encodes the document as the Summarizer did (same
// options.generation.max_source_length) and builds its highlight.
DocumentHighlight highlight_summary(const Summarizer& summarizer, const std::vector<std::string>& sentences,
                                    const DocumentSummary& summary, const HighlightOptions& options = {});

// The sentence split used for a single string: after words ending in . ! ? (closing quotes/brackets allowed)
// and at line breaks; whitespace-only pieces are dropped.
std::vector<std::string> split_sentences(const std::string& text);

// The numbers as JSON (`pyramidion highlight --json`, the server's "highlights"): layers, tokens (optional),
// words, sentences, ranking, summary, summary_words. `digits` > 0 rounds shares to that many significant digits.
nlohmann::json highlight_json(const DocumentHighlight& highlight, bool include_tokens = true, int digits = 0);

}  // namespace pyramidion
