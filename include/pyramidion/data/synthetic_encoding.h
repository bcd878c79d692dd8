#pragma once
// A synthetic corpus document (data/synthetic_corpus.h) as the token ids a model trains and is evaluated on, with
// the class of each source token (what the pooling report of nn/pooling_report.h measures). The demo's encoding.
#include <cstdint>
#include <string>
#include <vector>

#include "pyramidion/data/synthetic_corpus.h"

namespace pyramidion::data {

class SentencePieceTokenizer;

struct EncodedSyntheticDocument {
  std::vector<int64_t> source;   // words, then EOS
  std::vector<int64_t> classes;  // TokenClass per source token (EOS: filler)
  std::vector<int64_t> target;   // summary sentences joined by <sep>, then EOS
  std::string reference;         // summary sentences joined by '\n'
};

// Encodes word by word, so the classes stay aligned even where a word becomes several pieces.
EncodedSyntheticDocument encode_synthetic_document(const SentencePieceTokenizer& tokenizer,
                                                   const SyntheticDocument& document);

}  // namespace pyramidion::data
