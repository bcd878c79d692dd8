#include "pyramidion/util/markup_escape.h"

namespace pyramidion {

std::string markup_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;  // &apos; is not HTML 4; this reads the same in HTML and XML
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace pyramidion
