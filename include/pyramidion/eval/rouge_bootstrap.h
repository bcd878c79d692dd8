#pragma once
// Corpus-level ROUGE with bootstrap confidence intervals, as rouge_score's scoring.BootstrapAggregator:
// resample the examples with replacement `samples` times, take the mean of each resample, and report the
// (1-confidence)/2, 50 and 1-(1-confidence)/2 percentiles of those means (numpy.percentile, linear).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pyramidion/eval/rouge.h"

namespace pyramidion {

// More resamples than this change no reported digit and only cost memory (samples x 12 doubles) and time.
inline constexpr int kMaxBootstrapSamples = 100000;

struct BootstrapOptions {
  double confidence = 0.95;  // interval mass, in [0, 1]
  int samples = 1000;        // bootstrap resamples, 1..kMaxBootstrapSamples
  std::uint32_t seed = 0;    // resamples are drawn like numpy's legacy RandomState(seed).randint
};

struct MeanInterval {
  double mean = 0.0;  // plain mean over the examples
  double low = 0.0;   // lower percentile of the resample means
  double mid = 0.0;   // median of the resample means (rouge_score's "mid")
  double high = 0.0;  // upper percentile of the resample means
};

struct RougeScoreInterval {
  MeanInterval precision;
  MeanInterval recall;
  MeanInterval fmeasure;
};

struct RougeCorpusScores {
  std::size_t count = 0;  // examples aggregated; with 0 every value is 0
  RougeScoreInterval rouge1;
  RougeScoreInterval rouge2;
  RougeScoreInterval rougeL;
  RougeScoreInterval rougeLsum;
};

// numpy.percentile(values, percent) with the default "linear" method; percent in [0, 100]. Empty -> 0.
double percentile_linear(std::vector<double> values, double percent);

// Bootstrap intervals of the column means of `rows` (each row one example, all rows the same width). Rows
// are resampled as a whole, so the columns of one resample come from the same examples. Uses (and advances)
// the generator seeded from options.seed; see RougeBootstrapAggregator for several blocks from one stream.
std::vector<MeanInterval> bootstrap_column_means(const std::vector<std::vector<double>>& rows,
                                                 const BootstrapOptions& options = {});

class RougeBootstrapAggregator {
 public:
  // Throws std::invalid_argument for a confidence outside [0, 1] or samples outside 1..kMaxBootstrapSamples.
  explicit RougeBootstrapAggregator(BootstrapOptions options = {});

  void add(const RougeScores& scores) { scores_.push_back(scores); }
  std::size_t size() const { return scores_.size(); }

  // Deterministic for a given seed. The metrics draw their resamples one after the other from one stream in
  // the order rouge1, rouge2, rougeL, rougeLsum, each resampling (precision, recall, F) rows together.
  RougeCorpusScores aggregate() const;

 private:
  BootstrapOptions options_;
  std::vector<RougeScores> scores_;
};

}  // namespace pyramidion
