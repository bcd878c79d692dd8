#pragma once
// A deterministic synthetic long-document summarization corpus (the embedded default of `pyramidion demo`):
// each document hides a few cue-marked passages ("finding" + fact words) among decoy passages (another
// cue + fact words) and filler sentences; its summary restates the facts of the cue-marked passages, in
// order. Real corpora cannot ship with the project; this one exercises exactly what pooling must learn:
// keep the few representations the decoder needs out of many.
#include <cstdint>
#include <string>
#include <vector>

namespace pyramidion::data {

enum class TokenClass : uint8_t { kFiller = 0, kSalient = 1, kDistractor = 2 };
const char* token_class_name(TokenClass c);

struct SyntheticCorpusOptions {
  uint64_t seed = 2022;
  int64_t min_words = 256;  // document length in words (punctuation included)
  int64_t max_words = 1024;
  int64_t min_salient = 2, max_salient = 3;          // cue-marked passages per document
  int64_t min_facts = 2, max_facts = 4;              // fact words per passage
  int64_t min_distractors = 2, max_distractors = 3;  // decoy-cue passages per document
  int64_t min_filler_words = 6, max_filler_words = 14;
  int64_t filler_vocabulary = 300;
  int64_t fact_vocabulary = 100;
  double fact_rate_in_filler = 0.05;
  std::string cue = "finding";
  std::vector<std::string> decoy_cues = {"note", "claim", "remark", "aside"};
};

struct SyntheticDocument {
  std::string id;
  std::vector<std::string> words;      // the document, word by word ("." closes a sentence)
  std::vector<TokenClass> classes;     // one per word
  std::vector<std::string> sentences;  // the document's sentences
  std::vector<std::string> summary;    // one sentence per cue-marked passage: its facts then "."
};

class SyntheticCorpus {
 public:
  explicit SyntheticCorpus(SyntheticCorpusOptions options = {});
  // Document `index` of split `split` ("train", "valid", "test" draw from disjoint streams); the same
  // arguments always give the same document, on every platform.
  SyntheticDocument document(const std::string& split, int64_t index) const;
  // Every word that can occur (for tokenizer training and inspection).
  std::vector<std::string> vocabulary() const;
  const SyntheticCorpusOptions& options() const { return options_; }

 private:
  SyntheticCorpusOptions options_;
  std::vector<std::string> filler_;
  std::vector<std::string> facts_;
};

// The first `n` sentences of a document: the lead-n baseline summary.
std::vector<std::string> lead_sentences(const SyntheticDocument& document, int64_t n);

}  // namespace pyramidion::data
