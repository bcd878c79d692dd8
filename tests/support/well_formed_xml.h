#pragma once
// Checks on the SVG and HTML the library writes (plots, pages), shared by the suites that render them.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace pyramidion::testing {

// Minimal well-formedness check: balanced tags, quoted attributes, known entities only.
inline ::testing::AssertionResult well_formed_xml(const std::string& xml) {
  std::vector<std::string> stack;
  size_t i = 0;
  while (i < xml.size()) {
    if (xml[i] == '&') {
      static const std::regex entity("^&(amp|lt|gt|quot|apos|#[0-9]+);");
      if (!std::regex_search(xml.substr(i, 8), entity)) return ::testing::AssertionFailure() << "bare & at " << i;
      ++i;
      continue;
    }
    if (xml[i] != '<') {
      ++i;
      continue;
    }
    if (xml.compare(i, 2, "<?") == 0 || xml.compare(i, 4, "<!--") == 0) {
      const size_t end = xml.find(xml[i + 1] == '?' ? "?>" : "-->", i);
      if (end == std::string::npos) return ::testing::AssertionFailure() << "unterminated at " << i;
      i = end + 2;
      continue;
    }
    // A tag: scan to its '>' outside quotes.
    size_t j = i + 1;
    char quote = 0;
    for (; j < xml.size(); ++j) {
      if (quote) {
        if (xml[j] == '<') return ::testing::AssertionFailure() << "'<' inside an attribute at " << j;
        if (xml[j] == quote) quote = 0;
      } else if (xml[j] == '"' || xml[j] == '\'') {
        quote = xml[j];
      } else if (xml[j] == '>') {
        break;
      }
    }
    if (j >= xml.size()) return ::testing::AssertionFailure() << "unterminated tag at " << i;
    std::string tag = xml.substr(i + 1, j - i - 1);
    if (!tag.empty() && tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name)
        return ::testing::AssertionFailure()
               << "</" << name << "> closes <" << (stack.empty() ? "" : stack.back()) << ">";
      stack.pop_back();
    } else if (tag.empty() || tag.back() != '/') {
      stack.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
    }
    i = j + 1;
  }
  if (!stack.empty()) return ::testing::AssertionFailure() << "<" << stack.back() << "> never closed";
  return ::testing::AssertionSuccess();
}

// Occurrences of `what` in `text`.
inline size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace pyramidion::testing
