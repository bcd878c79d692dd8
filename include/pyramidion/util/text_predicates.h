#pragma once
// Small predicates on text that many files need (file names, blank documents, JSON keys): one definition each.
#include <string_view>

namespace pyramidion {

// ASCII whitespace, as std::isspace in the "C" locale (space, \t, \n, \v, \f, \r), without its int/EOF pitfalls.
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// True when `text` is empty or only whitespace.
inline bool blank(std::string_view text) { return text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos; }

inline bool starts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// True when `text` is one or more decimal digits.
inline bool all_digits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace pyramidion
