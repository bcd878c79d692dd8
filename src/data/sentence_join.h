#pragma once
// Sentences encoded one by one and joined by a separator id (the tokenizer's <sep> or <n> piece): what the
// SentencePiece and PEGASUS tokenizers' encode_sentences share.
#include <cstdint>
#include <string>
#include <vector>

namespace pyramidion::data {

// `encode`: std::string -> std::vector<int64_t>.
template <class Encode>
std::vector<int64_t> encode_joined(const std::vector<std::string>& sentences, int64_t separator, const Encode& encode) {
  std::vector<int64_t> ids;
  for (size_t i = 0; i < sentences.size(); ++i) {
    if (i > 0) ids.push_back(separator);
    const std::vector<int64_t> piece = encode(sentences[i]);
    ids.insert(ids.end(), piece.begin(), piece.end());
  }
  return ids;
}

}  // namespace pyramidion::data
