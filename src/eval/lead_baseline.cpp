#include "pyramidion/eval/lead_baseline.h"

#include <algorithm>

#include "pyramidion/eval/rouge_tokenizer.h"

namespace pyramidion {

std::string lead_summary(const std::vector<std::string>& sentences, size_t count) {
  std::string summary;
  for (size_t i = 0; i < count && i < sentences.size(); ++i) {
    if (i) summary += '\n';
    summary += sentences[i];
  }
  return summary;
}

size_t oracle_length_lead_count(const std::vector<std::string>& sentences, const std::string& reference) {
  if (sentences.empty()) return 0;
  const RougeTokenizer tokenizer(false);  // word counts only: stemming does not change them
  const size_t target = tokenizer.tokenize(reference).size();
  size_t words = 0, count = 0;
  while (count < sentences.size() && (count == 0 || words < target))
    words += tokenizer.tokenize(sentences[count++]).size();
  return count;
}

}  // namespace pyramidion
