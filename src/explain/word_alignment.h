#pragma once
// The highlight view's first part: which tokens make up which word of the document's own text, and which sentence
// each word belongs to. The shares (pooling_shares.h) and the summary's links (summary_links.h) are then read off
// these spans.
#include <cstdint>
#include <string>
#include <vector>

#include "pyramidion/explain/highlight.h"

namespace pyramidion {
namespace data {
class Tokenizer;
}

namespace explain {

// A word that closes a sentence: ends in . ! ? possibly followed by closing quotes or brackets.
bool ends_sentence(const std::string& word);

// Token positions grouped into words by the tokenizer's piece roles (data::Tokenizer::piece_role): a group starts
// at a word-start piece (SentencePiece's U+2581, byte-level BPE's "Ġ") or after a separator; whitespace-only pieces
// (a byte-level BPE run of spaces) join the word after them; separators and line breaks ("Ċ") start a sentence and,
// with EOS, BOS and padding, belong to no group.
struct TokenGroups {
  std::vector<std::vector<int64_t>> groups;  // token positions
  std::vector<int64_t> sentence_breaks;      // group indices that start a new sentence (after a <sep>)
};
TokenGroups group_tokens(const data::Tokenizer& tokenizer, const std::vector<int64_t>& ids, size_t count);
// The text of one group: its pieces decoded, outer spaces trimmed.
std::string decode_group(const data::Tokenizer& tokenizer, const std::vector<int64_t>& ids,
                         const std::vector<int64_t>& positions);

struct WordAlignment {
  bool aligned = true;  // false: the text and its pieces did not align, words are rebuilt from the pieces
  // text, sentence, first_token and tokens set (first_token -1: never read); shares left empty.
  std::vector<HighlightWord> words;
  std::vector<std::string> sentences;  // the sentences the words' `sentence` indexes (the input's when aligned)
  std::vector<int64_t> token_word;     // per token of `ids`: its word, -1 for EOS or a separator
};

// `ids` are the tokens the encoder read of `sentences`, EOS last (possibly cut at max_source_positions).
WordAlignment align_words(const data::Tokenizer& tokenizer, const std::vector<std::string>& sentences,
                          const std::vector<int64_t>& ids);

}  // namespace explain
}  // namespace pyramidion
