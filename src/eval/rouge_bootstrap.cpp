// Bootstrap aggregation following rouge_score.scoring.BootstrapAggregator and the numpy calls it makes
// (np.random.choice -> legacy masked-rejection randint on MT19937, np.mean over rows, np.percentile linear).
#include "pyramidion/eval/rouge_bootstrap.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace pyramidion {
namespace {

void validate(const BootstrapOptions& options) {
  if (!(options.confidence >= 0.0 && options.confidence <= 1.0))
    throw std::invalid_argument("bootstrap confidence must be in [0, 1]");
  if (options.samples <= 0 || options.samples > kMaxBootstrapSamples)
    throw std::invalid_argument("bootstrap samples: " + std::to_string(options.samples) + " is outside 1.." +
                                std::to_string(kMaxBootstrapSamples));
}

// Uniform index in [0, count), drawn as numpy's legacy randint does: mask the 32-bit output to the
// smallest all-ones mask covering count-1 and reject values above count-1.
class IndexSampler {
 public:
  explicit IndexSampler(std::uint32_t seed) : generator_(seed) {}

  std::size_t next(std::uint32_t largest) {
    if (largest == 0) return 0;  // numpy draws nothing for a one-element range
    std::uint32_t mask = largest;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    std::uint32_t value;
    do {
      value = static_cast<std::uint32_t>(generator_()) & mask;
    } while (value > largest);
    return value;
  }

 private:
  std::mt19937 generator_;
};

std::vector<MeanInterval> resample_column_means(const std::vector<std::vector<double>>& rows,
                                                const BootstrapOptions& options, IndexSampler& sampler) {
  const std::size_t width = rows.empty() ? 0 : rows.front().size();
  for (const auto& row : rows)
    if (row.size() != width) throw std::invalid_argument("bootstrap rows differ in width");
  std::vector<MeanInterval> result(width);
  if (rows.empty()) return result;

  const std::size_t count = rows.size();
  if (count - 1 > UINT32_MAX) throw std::invalid_argument("bootstrap: too many rows");
  for (std::size_t c = 0; c < width; ++c) {
    double sum = 0.0;
    for (const auto& row : rows) sum += row[c];
    result[c].mean = sum / static_cast<double>(count);
  }

  // sample_means[c][s]: mean of column c in resample s, summed row by row as np.mean(axis=0) does.
  std::vector<std::vector<double>> sample_means(width, std::vector<double>(options.samples));
  std::vector<double> sums(width);
  for (int s = 0; s < options.samples; ++s) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (std::size_t k = 0; k < count; ++k) {
      const auto& row = rows[sampler.next(static_cast<std::uint32_t>(count - 1))];
      for (std::size_t c = 0; c < width; ++c) sums[c] += row[c];
    }
    for (std::size_t c = 0; c < width; ++c) sample_means[c][s] = sums[c] / static_cast<double>(count);
  }

  const double delta = (1.0 - options.confidence) / 2.0;
  for (std::size_t c = 0; c < width; ++c) {
    std::sort(sample_means[c].begin(), sample_means[c].end());
    result[c].low = percentile_linear(sample_means[c], 100.0 * delta);
    result[c].mid = percentile_linear(sample_means[c], 100.0 * 0.5);
    result[c].high = percentile_linear(sample_means[c], 100.0 * (1.0 - delta));
  }
  return result;
}

RougeScoreInterval metric_interval(const std::vector<RougeScores>& scores, RougeScore RougeScores::*metric,
                                   const BootstrapOptions& options, IndexSampler& sampler) {
  std::vector<std::vector<double>> rows;
  rows.reserve(scores.size());
  for (const auto& s : scores) {
    const RougeScore& score = s.*metric;
    rows.push_back({score.precision, score.recall, score.fmeasure});
  }
  const auto columns = resample_column_means(rows, options, sampler);
  return RougeScoreInterval{columns[0], columns[1], columns[2]};
}

}  // namespace

double percentile_linear(std::vector<double> values, double percent) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  const double quantile = percent / 100.0;
  const double virtual_index = static_cast<double>(n - 1) * quantile;
  if (virtual_index <= 0.0) return values.front();
  if (virtual_index >= static_cast<double>(n - 1)) return values.back();
  const double below = std::floor(virtual_index);
  const double gamma = virtual_index - below;
  const double a = values[static_cast<std::size_t>(below)];
  const double b = values[static_cast<std::size_t>(below) + 1];
  // numpy's _lerp: interpolate from the nearer end for accuracy.
  const double difference = b - a;
  return gamma >= 0.5 ? b - difference * (1.0 - gamma) : a + difference * gamma;
}

std::vector<MeanInterval> bootstrap_column_means(const std::vector<std::vector<double>>& rows,
                                                 const BootstrapOptions& options) {
  validate(options);
  IndexSampler sampler(options.seed);
  return resample_column_means(rows, options, sampler);
}

RougeBootstrapAggregator::RougeBootstrapAggregator(BootstrapOptions options) : options_(options) { validate(options_); }

RougeCorpusScores RougeBootstrapAggregator::aggregate() const {
  RougeCorpusScores corpus;
  corpus.count = scores_.size();
  if (scores_.empty()) return corpus;
  IndexSampler sampler(options_.seed);
  corpus.rouge1 = metric_interval(scores_, &RougeScores::rouge1, options_, sampler);
  corpus.rouge2 = metric_interval(scores_, &RougeScores::rouge2, options_, sampler);
  corpus.rougeL = metric_interval(scores_, &RougeScores::rougeL, options_, sampler);
  corpus.rougeLsum = metric_interval(scores_, &RougeScores::rougeLsum, options_, sampler);
  return corpus;
}

}  // namespace pyramidion
