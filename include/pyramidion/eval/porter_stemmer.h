#pragma once
// Porter stemmer exactly as NLTK's `PorterStemmer()` in its default NLTK_EXTENSIONS mode (NLTK 3.5+ rewrite),
// which is what Google's rouge_score uses for use_stemmer=True. The extensions over Porter (1980): the
// irregular-form table (skies -> sky, dying -> die, ...), words of 1-2 letters left alone, "ies"/"ied" of
// 4-letter words -> "ie", the two-letter *o condition, "bli" -> "ble", "alli" re-run through step 2, and the
// "fulli" and "logi" rules.
#include <string>
#include <string_view>

namespace pyramidion {

class PorterStemmer {
 public:
  // Stems one word. Lower-cases ASCII letters first (NLTK's to_lowercase=True); other bytes are kept
  // and count as consonants, as NLTK treats any non-vowel character.
  std::string stem(std::string_view word) const;
};

}  // namespace pyramidion
