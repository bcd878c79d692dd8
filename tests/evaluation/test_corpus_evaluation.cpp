// Evaluating a model on a corpus (evaluation/corpus_evaluation.h), the one path of `evaluate`, the demo and the
// trainer's validation: chunks give the predictions of one call, text and token documents agree, scores are
// rouge_score's per document and their mean, and a text ROUGE refuses names its document.
#include <gtest/gtest.h>

#include "../data/temp_dir.h"
#include "../server/tiny_model.h"
#include "pyramidion/evaluation/corpus_evaluation.h"

namespace pyramidion {
namespace {

const Summarizer& float32_tiny_summarizer() {
  static testing::TempDir dir;
  static const Summarizer summarizer = [] {
    const std::string path = dir.file("tiny.pt");
    testing::write_tiny_model(path, dir.path());
    return Summarizer::load(path);
  }();
  return summarizer;
}

CorpusEvaluationOptions short_corpus_summaries() {
  CorpusEvaluationOptions o;
  o.generation.search.beam = 2;
  o.generation.search.max_len_b = 8;
  o.generation.search.min_len = 2;
  return o;
}

std::vector<std::vector<std::string>> documents(int count) {
  std::vector<std::vector<std::string>> out;
  for (int i = 0; i < count; ++i) out.push_back({testing::tiny_document(10 + i, 8), testing::tiny_document(50 + i, 6)});
  return out;
}

TEST(CorpusEvaluation, ChunksGiveThePredictionsOfOneCallAndReportProgress) {
  const auto docs = documents(5);
  CorpusEvaluationOptions one = short_corpus_summaries();
  const Predictions all = predict_summaries(float32_tiny_summarizer(), docs, one);
  CorpusEvaluationOptions chunked = short_corpus_summaries();
  chunked.chunk = 2;
  std::vector<int64_t> progress;
  chunked.progress = [&](int64_t done) { progress.push_back(done); };
  const Predictions parts = predict_summaries(float32_tiny_summarizer(), docs, chunked);
  EXPECT_EQ(progress, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(parts.texts, all.texts);
  EXPECT_EQ(parts.tokens, all.tokens);
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_FALSE(all.tokens[i].empty()) << i;

  // The encoder's ids of the same documents give the same summaries.
  std::vector<std::vector<int64_t>> sources;
  for (const auto& d : docs) {
    bool truncated = false;
    sources.push_back(float32_tiny_summarizer().encode_source(d, one.generation, truncated));
  }
  EXPECT_EQ(predict_summaries(float32_tiny_summarizer(), sources, one).texts, all.texts);
  chunked.chunk = -1;
  EXPECT_THROW(predict_summaries(float32_tiny_summarizer(), docs, chunked), std::invalid_argument);
}

TEST(CorpusEvaluation, ScoresAreRougePerDocumentAndTheirMean) {
  const auto docs = documents(3);
  std::vector<std::string> references;
  for (const auto& d : docs) references.push_back(d[0]);
  const CorpusEvaluation result =
      evaluate_corpus(float32_tiny_summarizer(), docs, references, short_corpus_summaries());
  ASSERT_EQ(result.scores.size(), 3u);
  const RougeScorer scorer;
  double f2 = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    const RougeScores want = scorer.score(references[i], result.predictions.texts[i]);
    EXPECT_DOUBLE_EQ(result.scores[i].rouge1.fmeasure, want.rouge1.fmeasure);
    EXPECT_DOUBLE_EQ(result.scores[i].rougeLsum.recall, want.rougeLsum.recall);
    f2 += want.rouge2.fmeasure;
  }
  EXPECT_DOUBLE_EQ(result.mean().rouge2.fmeasure, f2 / 3);
  EXPECT_THROW(evaluate_corpus(float32_tiny_summarizer(), docs, {"one"}, short_corpus_summaries()),
               std::invalid_argument);
}

TEST(CorpusEvaluation, MeansSumInOrderAndAnEmptyCorpusScoresZero) {
  RougeScores a, b;
  a.rouge1 = {0.5, 0.25, 1.0 / 3};
  b.rouge1 = {0.25, 0.75, 0.375};
  const RougeScores sum = sum_scores({a, b});
  EXPECT_DOUBLE_EQ(sum.rouge1.precision, 0.75);
  EXPECT_DOUBLE_EQ(divide_scores(sum, 2).rouge1.recall, 0.5);
  EXPECT_DOUBLE_EQ(mean_scores({a, b}).rouge1.fmeasure, (1.0 / 3 + 0.375) / 2);
  EXPECT_DOUBLE_EQ(mean_scores({}).rouge2.fmeasure, 0.0);
}

TEST(CorpusEvaluation, ATextRougeRefusesNamesItsDocument) {
  const std::string huge(kMaxRougeTextBytes + 1, 'a');
  try {
    score_summaries({"a b", "c d", huge}, {"a", "c", "a"});
    FAIL() << "no error";
  } catch (const DocumentScoreError& e) {
    EXPECT_EQ(e.document, 2u);
    EXPECT_NE(std::string(e.what()).find("bytes"), std::string::npos) << e.what();
  }
  EXPECT_THROW(score_summaries({"a"}, {}), std::invalid_argument);
}

}  // namespace
}  // namespace pyramidion
