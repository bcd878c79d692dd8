#pragma once
// ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum, bit-compatible with Google's rouge_score package
// (RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=...)): same tokenizer, same Porter
// stemmer, same n-gram clipping, same LCS tie-breaking and the same summary-level union-LCS hit counting.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pyramidion/eval/rouge_tokenizer.h"

namespace pyramidion {

struct RougeScore {
  double precision = 0.0;
  double recall = 0.0;
  double fmeasure = 0.0;
};

struct RougeScores {
  RougeScore rouge1;
  RougeScore rouge2;
  RougeScore rougeL;
  RougeScore rougeLsum;
};

struct RougeOptions {
  bool use_stemmer = true;  // Porter-stem tokens longer than 3 characters (rouge_score's use_stemmer)
};

using RougeTokens = std::vector<std::string>;

// 2PR / (P + R), and 0 when P + R is 0 (rouge_score.scoring.fmeasure).
double rouge_fmeasure(double precision, double recall);

// Clipped n-gram overlap. Precision divides by max(#prediction n-grams, 1), recall by max(#target n-grams, 1).
RougeScore rouge_n(const RougeTokens& target, const RougeTokens& prediction, int n);

// Longest common subsequence over the whole token sequences; all zeros when either side is empty.
RougeScore rouge_l(const RougeTokens& target, const RougeTokens& prediction);

// Summary-level LCS (ROUGE paper section 3.2 as rouge_score implements it): for each target sentence the
// union of its LCS positions with every prediction sentence; a union token counts as a hit only while both
// summaries still have an unused occurrence of it.
RougeScore rouge_lsum(const std::vector<RougeTokens>& target_sentences,
                      const std::vector<RougeTokens>& prediction_sentences);

// rougeLsum's sentence split: on '\n' only, dropping empty lines (a line of only spaces is kept, and
// simply yields no tokens).
std::vector<std::string_view> split_rouge_sentences(std::string_view text);

// Bounds that keep one huge line from taking minutes or gigabytes: a summary this long is a data error.
inline constexpr std::size_t kMaxRougeTextBytes = std::size_t{1} << 20;  // 1 MiB per reference or prediction
inline constexpr std::size_t kMaxRougeLcsCells = 100'000'000;  // token pairs of one LCS (~0.3 s, 400 MB table)

class RougeScorer {
 public:
  explicit RougeScorer(RougeOptions options = {});

  // `target` is the reference summary, `prediction` the system summary; sentences separated by '\n'
  // (only rougeLsum looks at them). Empty target or prediction gives all zeros. Throws std::length_error with a
  // one-line reason when a text exceeds kMaxRougeTextBytes or an LCS would exceed kMaxRougeLcsCells.
  RougeScores score(std::string_view target, std::string_view prediction) const;

  const RougeOptions& options() const { return options_; }
  const RougeTokenizer& tokenizer() const { return tokenizer_; }

 private:
  RougeOptions options_;
  RougeTokenizer tokenizer_;
};

}  // namespace pyramidion
