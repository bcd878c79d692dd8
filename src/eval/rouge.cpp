// ROUGE scores computed the way rouge_score/rouge_scorer.py computes them, down to the LCS backtracking
// order (which decides which LCS rougeLsum unions) and the per-token hit counters.
#include "pyramidion/eval/rouge.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace pyramidion {
namespace {

RougeScore make_score(double precision, double recall) {
  return RougeScore{precision, recall, rouge_fmeasure(precision, recall)};
}

// Maps token strings to dense ids so the LCS tables compare integers.
class TokenIds {
 public:
  std::vector<int> encode(const RougeTokens& tokens) {
    std::vector<int> ids;
    ids.reserve(tokens.size());
    for (const auto& token : tokens) ids.push_back(id(token));
    return ids;
  }
  int id(const std::string& token) { return ids_.emplace(token, static_cast<int>(ids_.size())).first->second; }
  int size() const { return static_cast<int>(ids_.size()); }

 private:
  std::unordered_map<std::string, int> ids_;
};

void check_lcs_size(std::size_t a, std::size_t b) {
  if (a != 0 && b > kMaxRougeLcsCells / a)
    throw std::length_error("ROUGE-L: " + std::to_string(a) + " x " + std::to_string(b) +
                            " tokens exceed the limit of " + std::to_string(kMaxRougeLcsCells) +
                            " token pairs (is a summary this long?)");
}

// rouge_score's _lcs_table: (|ref|+1) x (|can|+1), row-major.
std::vector<int> lcs_table(const std::vector<int>& ref, const std::vector<int>& can) {
  check_lcs_size(ref.size() + 1, can.size() + 1);
  const std::size_t cols = can.size() + 1;
  std::vector<int> table((ref.size() + 1) * cols, 0);
  for (std::size_t i = 1; i <= ref.size(); ++i) {
    for (std::size_t j = 1; j <= can.size(); ++j) {
      table[i * cols + j] = ref[i - 1] == can[j - 1] ? table[(i - 1) * cols + j - 1] + 1
                                                     : std::max(table[(i - 1) * cols + j], table[i * cols + j - 1]);
    }
  }
  return table;
}

int lcs_length(const std::vector<int>& a, const std::vector<int>& b) {
  check_lcs_size(a.size(), b.size());
  std::vector<int> previous(b.size() + 1, 0), current(b.size() + 1, 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j)
      current[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : std::max(previous[j], current[j - 1]);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

// rouge_score's _backtrack_norec: on a mismatch it moves left only when that cell is strictly larger than the
// one above, so ties go up. Marks the chosen LCS positions of `ref` in `in_union`.
void mark_lcs_positions(const std::vector<int>& ref, const std::vector<int>& can, std::vector<char>& in_union) {
  const std::vector<int> table = lcs_table(ref, can);
  const std::size_t cols = can.size() + 1;
  std::size_t i = ref.size(), j = can.size();
  while (i > 0 && j > 0) {
    if (ref[i - 1] == can[j - 1]) {
      in_union[i - 1] = 1;
      --i;
      --j;
    } else if (table[i * cols + j - 1] > table[(i - 1) * cols + j]) {
      --j;
    } else {
      --i;
    }
  }
}

}  // namespace

double rouge_fmeasure(double precision, double recall) {
  if (precision + recall > 0) return 2 * precision * recall / (precision + recall);
  return 0.0;
}

RougeScore rouge_n(const RougeTokens& target, const RougeTokens& prediction, int n) {
  if (n <= 0) throw std::invalid_argument("rouge_n: n must be positive");
  auto count_ngrams = [n](const RougeTokens& tokens, std::unordered_map<std::string, long>& counts) {
    long total = 0;
    for (std::size_t i = 0; i + static_cast<std::size_t>(n) <= tokens.size(); ++i) {
      std::string key = tokens[i];
      for (int k = 1; k < n; ++k) key.append(1, ' ').append(tokens[i + k]);  // tokens never contain spaces
      ++counts[key];
      ++total;
    }
    return total;
  };
  std::unordered_map<std::string, long> target_counts, prediction_counts;
  const long target_total = count_ngrams(target, target_counts);
  const long prediction_total = count_ngrams(prediction, prediction_counts);
  long overlap = 0;
  for (const auto& [ngram, count] : target_counts) {
    auto it = prediction_counts.find(ngram);
    if (it != prediction_counts.end()) overlap += std::min(count, it->second);
  }
  return make_score(static_cast<double>(overlap) / static_cast<double>(std::max(prediction_total, 1L)),
                    static_cast<double>(overlap) / static_cast<double>(std::max(target_total, 1L)));
}

RougeScore rouge_l(const RougeTokens& target, const RougeTokens& prediction) {
  if (target.empty() || prediction.empty()) return {};
  TokenIds ids;
  const int lcs = lcs_length(ids.encode(target), ids.encode(prediction));
  return make_score(static_cast<double>(lcs) / static_cast<double>(prediction.size()),
                    static_cast<double>(lcs) / static_cast<double>(target.size()));
}

RougeScore rouge_lsum(const std::vector<RougeTokens>& target_sentences,
                      const std::vector<RougeTokens>& prediction_sentences) {
  if (target_sentences.empty() || prediction_sentences.empty()) return {};
  TokenIds ids;
  std::vector<std::vector<int>> targets, predictions;
  std::size_t target_total = 0, prediction_total = 0;
  for (const auto& sentence : target_sentences) {
    targets.push_back(ids.encode(sentence));
    target_total += sentence.size();
  }
  for (const auto& sentence : prediction_sentences) {
    predictions.push_back(ids.encode(sentence));
    prediction_total += sentence.size();
  }
  if (target_total == 0 || prediction_total == 0) return {};

  // Unused occurrences per token on each side, so a token is not counted as a hit more often than it occurs.
  std::vector<long> target_left(ids.size(), 0), prediction_left(ids.size(), 0);
  for (const auto& sentence : targets)
    for (int id : sentence) ++target_left[id];
  for (const auto& sentence : predictions)
    for (int id : sentence) ++prediction_left[id];

  long hits = 0;
  for (const auto& target : targets) {
    std::vector<char> in_union(target.size(), 0);
    for (const auto& prediction : predictions) mark_lcs_positions(target, prediction, in_union);
    for (std::size_t i = 0; i < target.size(); ++i) {  // union positions in increasing order
      if (!in_union[i]) continue;
      const int id = target[i];
      if (prediction_left[id] > 0 && target_left[id] > 0) {
        ++hits;
        --prediction_left[id];
        --target_left[id];
      }
    }
  }
  return make_score(static_cast<double>(hits) / static_cast<double>(prediction_total),
                    static_cast<double>(hits) / static_cast<double>(target_total));
}

std::vector<std::string_view> split_rouge_sentences(std::string_view text) {
  std::vector<std::string_view> sentences;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) sentences.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return sentences;
}

RougeScorer::RougeScorer(RougeOptions options) : options_(options), tokenizer_(options.use_stemmer) {}

RougeScores RougeScorer::score(std::string_view target, std::string_view prediction) const {
  for (const auto& [what, text] : {std::pair{"reference", target}, std::pair{"prediction", prediction}})
    if (text.size() > kMaxRougeTextBytes)
      throw std::length_error(std::string("ROUGE: the ") + what + " has " + std::to_string(text.size()) +
                              " bytes, more than the limit of " + std::to_string(kMaxRougeTextBytes) +
                              " (is a summary this long?)");
  const RougeTokens target_tokens = tokenizer_.tokenize(target);
  const RougeTokens prediction_tokens = tokenizer_.tokenize(prediction);
  std::vector<RougeTokens> target_sentences, prediction_sentences;
  for (std::string_view sentence : split_rouge_sentences(target))
    target_sentences.push_back(tokenizer_.tokenize(sentence));
  for (std::string_view sentence : split_rouge_sentences(prediction))
    prediction_sentences.push_back(tokenizer_.tokenize(sentence));

  RougeScores scores;
  scores.rouge1 = rouge_n(target_tokens, prediction_tokens, 1);
  scores.rouge2 = rouge_n(target_tokens, prediction_tokens, 2);
  scores.rougeL = rouge_l(target_tokens, prediction_tokens);
  scores.rougeLsum = rouge_lsum(target_sentences, prediction_sentences);
  return scores;
}

}  // namespace pyramidion
