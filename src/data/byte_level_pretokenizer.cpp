#include "byte_level_pretokenizer.h"

#include "unicode_classes.h"
#include "utf8_text.h"

namespace pyramidion::data {

namespace {

enum class CharClass : unsigned char { kLetter, kNumber, kSpace, kOther };

CharClass classify(char32_t cp) {
  if (is_unicode_letter(cp)) return CharClass::kLetter;
  if (is_unicode_number(cp)) return CharClass::kNumber;
  if (is_unicode_whitespace(cp)) return CharClass::kSpace;
  return CharClass::kOther;  // [^\s\p{L}\p{N}], U+FFFD of ill-formed bytes included
}

// The code point that byte b is written as, bytes_to_unicode() of GPT-2's encoder.py.
std::array<char32_t, 256> byte_to_code_point() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return table;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> gpt2_pre_tokenize(std::string_view text) {
  const std::vector<CodePoint> cps = utf8_code_points(std::string(text));
  const size_t n = cps.size();
  std::vector<CharClass> cls(n);
  for (size_t i = 0; i < n; ++i) cls[i] = classify(cps[i].value);
  auto is = [&](size_t i, CharClass c) { return i < n && cls[i] == c; };
  auto at = [&](size_t i, char32_t c) { return i < n && cps[i].value == c; };

  // One match of the pattern starting at code point i: its end. The alternatives are tried in order, as a
  // backtracking regex engine does, not longest-first.
  auto match = [&](size_t i) -> size_t {
    if (at(i, '\'')) {
      if (at(i + 1, 's') || at(i + 1, 't') || at(i + 1, 'm') || at(i + 1, 'd')) return i + 2;
      if ((at(i + 1, 'r') && at(i + 2, 'e')) || (at(i + 1, 'v') && at(i + 2, 'e')) ||
          (at(i + 1, 'l') && at(i + 2, 'l')))
        return i + 3;
    }
    // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional U+0020, then a run of one class.
    for (CharClass c : {CharClass::kLetter, CharClass::kNumber, CharClass::kOther}) {
      size_t k = (at(i, ' ') && is(i + 1, c)) ? i + 1 : i;
      if (!is(k, c)) continue;
      while (is(k, c)) ++k;
      return k;
    }
    // "\s+(?!\S)": a whitespace run, less its last character when a non-space follows (that one goes with the
    // next word as its " ?" prefix, or alone); "\s+": a single space before a non-space.
    size_t end = i;
    while (is(end, CharClass::kSpace)) ++end;
    if (end < n && end - i >= 2) return end - 1;
    return end;
  };

  std::vector<std::pair<size_t, size_t>> pieces;
  for (size_t i = 0; i < n;) {
    size_t end = match(i);
    pieces.emplace_back(cps[i].offset, end < n ? cps[end].offset : text.size());
    i = end;
  }
  return pieces;
}

const std::array<std::string, 256>& byte_level_symbols() {
  static const std::array<std::string, 256> symbols = [] {
    std::array<std::string, 256> out;
    auto table = byte_to_code_point();
    for (int b = 0; b < 256; ++b) append_utf8(out[b], table[b]);
    return out;
  }();
  return symbols;
}

int byte_level_byte(char32_t cp) {
  static const std::array<int, 324> inverse = [] {
    std::array<int, 324> out;
    out.fill(-1);
    auto table = byte_to_code_point();
    for (int b = 0; b < 256; ++b) out[table[b]] = b;
    return out;
  }();
  return cp < inverse.size() ? inverse[cp] : -1;
}

}  // namespace pyramidion::data
