#pragma once
// UTF-8 decoding for the byte-level BPE tokenizer: code points with their byte offsets (ill-formed input
// never throws), and the lossy repair decoded bytes need before they are handed out as text.
#include <cstddef>
#include <string>
#include <vector>

namespace pyramidion::data {

struct CodePoint {
  char32_t value;  // U+FFFD for an ill-formed sequence
  size_t offset;   // first byte in the text
  size_t length;   // bytes (1..4)
};

// Each maximal ill-formed subpart (Unicode's "best practice", as Rust's from_utf8_lossy and Python's
// errors="replace" use) becomes one CodePoint U+FFFD covering those bytes.
std::vector<CodePoint> utf8_code_points(const std::string& text);

// `bytes` with each maximal ill-formed subpart replaced by U+FFFD: what a decoder outputs for a token
// sequence that ends inside a multi-byte character.
std::string utf8_lossy(const std::string& bytes);

void append_utf8(std::string& out, char32_t cp);

}  // namespace pyramidion::data
