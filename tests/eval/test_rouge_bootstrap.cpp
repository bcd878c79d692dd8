// Bootstrap aggregation: numpy-style percentiles, intervals around the mean, determinism, degenerate input.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "pyramidion/eval/rouge_bootstrap.h"

namespace pyramidion {
namespace {

RougeScores uniform_scores(double value) {
  const RougeScore s{value, value, value};
  return RougeScores{s, s, s, s};
}

// 50 examples with spread-out, unequal scores.
RougeBootstrapAggregator spread_aggregator(BootstrapOptions options) {
  RougeBootstrapAggregator aggregator(options);
  for (int i = 0; i < 50; ++i) {
    const double x = (i * 37 % 50) / 50.0;
    aggregator.add(RougeScores{{x, x * x, x / 2}, {x / 3, x, 0.1}, {1 - x, x, 0.5 * x}, {x, 1 - x, x * 0.9}});
  }
  return aggregator;
}

TEST(RougeBootstrap, PercentileMatchesNumpyLinear) {
  const std::vector<double> values{4.0, 1.0, 3.0, 2.0};
  EXPECT_DOUBLE_EQ(percentile_linear(values, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile_linear(values, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile_linear(values, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile_linear(values, 25), 1.75);  // index 0.75
  EXPECT_DOUBLE_EQ(percentile_linear(values, 90), 3.7);   // index 2.7
  EXPECT_DOUBLE_EQ(percentile_linear({7.0}, 2.5), 7.0);
  EXPECT_EQ(percentile_linear({}, 50), 0.0);
}

TEST(RougeBootstrap, IntervalContainsTheMean) {
  const RougeCorpusScores corpus = spread_aggregator({}).aggregate();
  EXPECT_EQ(corpus.count, 50u);
  for (const RougeScoreInterval* metric : {&corpus.rouge1, &corpus.rouge2, &corpus.rougeL, &corpus.rougeLsum}) {
    for (const MeanInterval* m : {&metric->precision, &metric->recall, &metric->fmeasure}) {
      EXPECT_LE(m->low, m->mid);
      EXPECT_LE(m->mid, m->high);
      EXPECT_LE(m->low, m->mean);
      EXPECT_LE(m->mean, m->high);
      EXPECT_NEAR(m->mid, m->mean, 0.05);
    }
  }
  // rouge1 precision: x = 0, 0.02, ..., 0.98 -> mean 0.49; a real interval, not a point.
  EXPECT_DOUBLE_EQ(corpus.rouge1.precision.mean, 0.49);
  EXPECT_LT(corpus.rouge1.precision.low, 0.47);
  EXPECT_GT(corpus.rouge1.precision.high, 0.51);
  // Constant column (rouge2 F = 0.1 everywhere) has no spread.
  EXPECT_NEAR(corpus.rouge2.fmeasure.high - corpus.rouge2.fmeasure.low, 0.0, 1e-15);
}

TEST(RougeBootstrap, IsDeterministicForASeed) {
  const RougeCorpusScores a = spread_aggregator({0.95, 1000, 7}).aggregate();
  const RougeCorpusScores b = spread_aggregator({0.95, 1000, 7}).aggregate();
  const RougeCorpusScores c = spread_aggregator({0.95, 1000, 8}).aggregate();
  EXPECT_EQ(a.rougeL.recall.low, b.rougeL.recall.low);
  EXPECT_EQ(a.rougeL.recall.high, b.rougeL.recall.high);
  EXPECT_EQ(a.rougeLsum.fmeasure.mid, b.rougeLsum.fmeasure.mid);
  EXPECT_TRUE(a.rougeL.recall.low != c.rougeL.recall.low || a.rougeL.recall.high != c.rougeL.recall.high);
  EXPECT_EQ(a.rougeL.recall.mean, c.rougeL.recall.mean);  // the plain mean does not depend on the seed
}

TEST(RougeBootstrap, WiderConfidenceGivesWiderInterval) {
  const RougeCorpusScores narrow = spread_aggregator({0.5, 1000, 3}).aggregate();
  const RougeCorpusScores wide = spread_aggregator({0.99, 1000, 3}).aggregate();
  EXPECT_LT(wide.rouge1.precision.low, narrow.rouge1.precision.low);
  EXPECT_GT(wide.rouge1.precision.high, narrow.rouge1.precision.high);
}

TEST(RougeBootstrap, DegenerateWhenAllScoresAreEqual) {
  RougeBootstrapAggregator aggregator;
  for (int i = 0; i < 30; ++i) aggregator.add(uniform_scores(0.25));
  const RougeCorpusScores corpus = aggregator.aggregate();
  for (const MeanInterval* m : {&corpus.rouge1.precision, &corpus.rouge2.recall, &corpus.rougeLsum.fmeasure}) {
    EXPECT_EQ(m->mean, 0.25);
    EXPECT_EQ(m->low, 0.25);
    EXPECT_EQ(m->mid, 0.25);
    EXPECT_EQ(m->high, 0.25);
  }
  RougeBootstrapAggregator single;
  single.add(uniform_scores(0.6));
  EXPECT_EQ(single.aggregate().rougeL.recall.low, 0.6);
  EXPECT_EQ(single.aggregate().rougeL.recall.high, 0.6);
}

TEST(RougeBootstrap, EmptyCorpusAndBadOptions) {
  const RougeCorpusScores empty = RougeBootstrapAggregator().aggregate();
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.rouge1.fmeasure.mean, 0.0);
  EXPECT_THROW(RougeBootstrapAggregator({1.5, 1000, 0}), std::invalid_argument);
  EXPECT_THROW(RougeBootstrapAggregator({0.95, 0, 0}), std::invalid_argument);
  EXPECT_THROW(bootstrap_column_means({{1.0, 2.0}, {1.0}}), std::invalid_argument);
}

TEST(RougeBootstrap, ColumnMeansResampleWholeRows) {
  // Column 1 is always twice column 0, so every resample keeps that ratio exactly (powers of two).
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 20; ++i) rows.push_back({static_cast<double>(i), 2.0 * i});
  const auto columns = bootstrap_column_means(rows, {0.9, 200, 1});
  ASSERT_EQ(columns.size(), 2u);
  EXPECT_EQ(columns[1].low, 2.0 * columns[0].low);
  EXPECT_EQ(columns[1].high, 2.0 * columns[0].high);
  EXPECT_EQ(columns[0].mean, 9.5);
}

}  // namespace
}  // namespace pyramidion
