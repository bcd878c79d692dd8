#include "pyramidion/evaluation/corpus_evaluation.h"

#include <algorithm>
#include <cstddef>

namespace pyramidion {
namespace {

// The documents [start, end) of each chunk summarized by `summarize`, the best hypothesis kept.
template <typename Document>
Predictions predict(const std::vector<Document>& documents, const CorpusEvaluationOptions& options,
                    const std::function<std::vector<DocumentSummary>(const std::vector<Document>&)>& summarize) {
  if (options.chunk < 0) throw std::invalid_argument("chunk must be >= 0");
  Predictions out;
  out.texts.resize(documents.size());
  out.tokens.resize(documents.size());
  const size_t chunk = options.chunk > 0 ? static_cast<size_t>(options.chunk) : std::max<size_t>(documents.size(), 1);
  for (size_t start = 0; start < documents.size(); start += chunk) {
    const size_t end = std::min(documents.size(), start + chunk);
    const bool whole = start == 0 && end == documents.size();  // one call: no copy of the documents
    const auto results = whole ? summarize(documents)
                               : summarize(std::vector<Document>(documents.begin() + static_cast<std::ptrdiff_t>(start),
                                                                 documents.begin() + static_cast<std::ptrdiff_t>(end)));
    for (size_t i = start; i < end; ++i) {
      const auto& hypotheses = results[i - start].hypotheses;
      if (hypotheses.empty()) continue;
      out.texts[i] = hypotheses.front().text;
      out.tokens[i] = hypotheses.front().tokens;
    }
    if (options.progress) options.progress(static_cast<int64_t>(end - start));
  }
  return out;
}

CorpusEvaluation scored(Predictions predictions, const std::vector<std::string>& references,
                        const RougeOptions& options) {
  CorpusEvaluation out;
  out.scores = score_summaries(references, predictions.texts, options);
  out.predictions = std::move(predictions);
  return out;
}

void check_references(size_t documents, const std::vector<std::string>& references) {
  if (references.size() != documents)
    throw std::invalid_argument("evaluate_corpus: " + std::to_string(documents) + " documents but " +
                                std::to_string(references.size()) + " references");
}

void add(RougeScore& total, const RougeScore& s) {
  total.precision += s.precision;
  total.recall += s.recall;
  total.fmeasure += s.fmeasure;
}

void divide(RougeScore& s, double n) {
  s.precision /= n;
  s.recall /= n;
  s.fmeasure /= n;
}

}  // namespace

Predictions predict_summaries(const Summarizer& summarizer, const std::vector<std::vector<std::string>>& documents,
                              const CorpusEvaluationOptions& options) {
  return predict<std::vector<std::string>>(documents, options, [&](const std::vector<std::vector<std::string>>& part) {
    return summarizer.summarize_sentences(part, options.generation);
  });
}

Predictions predict_summaries(const Summarizer& summarizer, const std::vector<std::vector<int64_t>>& sources,
                              const CorpusEvaluationOptions& options) {
  return predict<std::vector<int64_t>>(sources, options, [&](const std::vector<std::vector<int64_t>>& part) {
    return summarizer.summarize_tokens(part, options.generation);
  });
}

std::vector<RougeScores> score_summaries(const std::vector<std::string>& references,
                                         const std::vector<std::string>& predictions, const RougeOptions& options) {
  if (references.size() != predictions.size())
    throw std::invalid_argument("score_summaries: " + std::to_string(references.size()) + " references but " +
                                std::to_string(predictions.size()) + " predictions");
  const RougeScorer scorer(options);
  std::vector<RougeScores> scores;
  scores.reserve(references.size());
  for (size_t i = 0; i < references.size(); ++i) {
    try {
      scores.push_back(scorer.score(references[i], predictions[i]));
    } catch (const std::length_error& e) {
      throw DocumentScoreError(i, e.what());
    }
  }
  return scores;
}

RougeScores sum_scores(const std::vector<RougeScores>& scores) {
  RougeScores total;
  for (const auto& s : scores) {
    add(total.rouge1, s.rouge1);
    add(total.rouge2, s.rouge2);
    add(total.rougeL, s.rougeL);
    add(total.rougeLsum, s.rougeLsum);
  }
  return total;
}

RougeScores divide_scores(RougeScores scores, double documents) {
  for (RougeScore* s : {&scores.rouge1, &scores.rouge2, &scores.rougeL, &scores.rougeLsum}) divide(*s, documents);
  return scores;
}

RougeScores mean_scores(const std::vector<RougeScores>& scores) {
  return divide_scores(sum_scores(scores), static_cast<double>(std::max<size_t>(scores.size(), 1)));
}

CorpusEvaluation evaluate_corpus(const Summarizer& summarizer, const std::vector<std::vector<std::string>>& documents,
                                 const std::vector<std::string>& references, const CorpusEvaluationOptions& options) {
  check_references(documents.size(), references);
  return scored(predict_summaries(summarizer, documents, options), references, options.rouge);
}

CorpusEvaluation evaluate_corpus(const Summarizer& summarizer, const std::vector<std::vector<int64_t>>& sources,
                                 const std::vector<std::string>& references, const CorpusEvaluationOptions& options) {
  check_references(sources.size(), references);
  return scored(predict_summaries(summarizer, sources, options), references, options.rouge);
}

}  // namespace pyramidion
