#include "utf8_text.h"

namespace pyramidion::data {

namespace {

// Length of the well-formed sequence at `pos`, or 0 with `bad` = the length of the maximal ill-formed
// subpart to replace (Unicode 15, table 3-7: the lead byte fixes which second bytes are allowed).
size_t well_formed_length(const unsigned char* s, size_t n, size_t pos, size_t& bad, char32_t& cp) {
  const unsigned char b0 = s[pos];
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    bad = 1;
    return 0;
  }
  for (size_t i = 1; i <= need; ++i) {
    if (pos + i >= n) {
      bad = i;
      return 0;
    }
    const unsigned char b = s[pos + i];
    const unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
    if (b < min || b > max) {
      bad = i;
      return 0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  return need + 1;
}

}  // namespace

std::vector<CodePoint> utf8_code_points(const std::string& text) {
  std::vector<CodePoint> out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t bad = 0;
    char32_t cp = 0;
    size_t length = well_formed_length(s, text.size(), pos, bad, cp);
    if (length == 0) {
      out.push_back({0xFFFD, pos, bad});
      pos += bad;
    } else {
      out.push_back({cp, pos, length});
      pos += length;
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string utf8_lossy(const std::string& bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t bad = 0;
    char32_t cp = 0;
    size_t length = well_formed_length(s, bytes.size(), pos, bad, cp);
    if (length == 0) {
      append_utf8(out, 0xFFFD);
      pos += bad;
    } else {
      out.append(bytes, pos, length);
      pos += length;
    }
  }
  return out;
}

}  // namespace pyramidion::data
