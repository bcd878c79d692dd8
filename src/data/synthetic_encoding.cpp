#include "pyramidion/data/synthetic_encoding.h"

#include "pyramidion/data/tokenizer.h"

namespace pyramidion::data {

EncodedSyntheticDocument encode_synthetic_document(const SentencePieceTokenizer& tokenizer,
                                                   const SyntheticDocument& document) {
  EncodedSyntheticDocument e;
  for (size_t w = 0; w < document.words.size(); ++w) {
    for (int64_t id : tokenizer.encode(document.words[w])) {
      e.source.push_back(id);
      e.classes.push_back(static_cast<int64_t>(document.classes[w]));
    }
  }
  e.source.push_back(tokenizer.eos_id());
  e.classes.push_back(static_cast<int64_t>(TokenClass::kFiller));
  e.target = tokenizer.encode_sentences(document.summary);
  e.target.push_back(tokenizer.eos_id());
  for (size_t s = 0; s < document.summary.size(); ++s) e.reference += (s ? "\n" : "") + document.summary[s];
  return e;
}

}  // namespace pyramidion::data
