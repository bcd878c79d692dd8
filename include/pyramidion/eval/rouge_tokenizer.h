#pragma once
// rouge_score's tokenizer (tokenize.py): lower-case, every character outside [a-z0-9] separates tokens,
// and with stemming only tokens longer than 3 characters are Porter-stemmed.
#include <string>
#include <string_view>
#include <vector>

#include "pyramidion/eval/porter_stemmer.h"

namespace pyramidion {

class RougeTokenizer {
 public:
  explicit RougeTokenizer(bool use_stemmer = true) : use_stemmer_(use_stemmer) {}

  // `text` is UTF-8. Python's str.lower() turns two non-ASCII characters into ASCII letters, which then
  // survive as token characters: KELVIN SIGN (U+212A) -> "k" and LATIN CAPITAL I WITH DOT (U+0130) ->
  // "i" + a combining dot (a separator). Every other non-ASCII character, and any invalid byte, separates.
  std::vector<std::string> tokenize(std::string_view text) const;

  bool use_stemmer() const { return use_stemmer_; }

 private:
  bool use_stemmer_;
  PorterStemmer stemmer_;
};

}  // namespace pyramidion
