// Mirrors rouge_score.tokenize.tokenize: lower(), [^a-z0-9]+ -> " ", split, stem tokens of length > 3,
// then drop empty tokens.
#include "pyramidion/eval/rouge_tokenizer.h"

namespace pyramidion {
namespace {

bool is_token_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool starts_with_bytes(std::string_view text, std::size_t at, std::string_view bytes) {
  return text.size() - at >= bytes.size() && text.substr(at, bytes.size()) == bytes;
}

}  // namespace

std::vector<std::string> RougeTokenizer::tokenize(std::string_view text) const {
  constexpr std::string_view kKelvinSign = "\xE2\x84\xAA";   // U+212A, lower() -> "k"
  constexpr std::string_view kCapitalIWithDot = "\xC4\xB0";  // U+0130, lower() -> "i" U+0307
  std::vector<std::string> tokens;
  std::string current;
  auto flush = [&] {
    if (current.empty()) return;
    if (use_stemmer_ && current.size() > 3) current = stemmer_.stem(current);
    if (!current.empty()) tokens.push_back(std::move(current));
    current.clear();
  };
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c >= 'A' && c <= 'Z') {
      current.push_back(static_cast<char>(c - 'A' + 'a'));
      ++i;
    } else if (is_token_char(c)) {
      current.push_back(c);
      ++i;
    } else if (starts_with_bytes(text, i, kKelvinSign)) {
      current.push_back('k');
      i += kKelvinSign.size();
    } else if (starts_with_bytes(text, i, kCapitalIWithDot)) {
      current.push_back('i');
      flush();  // the combining dot that follows the 'i' is a separator
      i += kCapitalIWithDot.size();
    } else {
      flush();
      ++i;
    }
  }
  flush();
  return tokens;
}

}  // namespace pyramidion
