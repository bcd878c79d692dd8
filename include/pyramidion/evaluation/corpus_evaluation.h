#pragma once
// "Evaluate a model on a corpus", written once: the best summary of each document through the Summarizer (in
// chunks, so memory and progress follow the corpus) and its ROUGE against the document's reference. The command
// `pyramidion evaluate`, the demo and the trainer's validation (training/validator.h) all go through here; the
// metric itself is eval/'s (text in, numbers out).
//
//   CorpusEvaluationOptions options;
//   options.generation.search.beam = 4;
//   const auto result = pyramidion::evaluate_corpus(summarizer, documents, references, options);
//   std::cout << result.mean().rouge2.fmeasure << "\n";
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pyramidion/decoding/generation_options.h"
#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/eval/rouge.h"

namespace pyramidion {

struct CorpusEvaluationOptions {
  GenerationOptions generation;  // the best hypothesis (hypotheses[0]) is the prediction
  int64_t chunk = 0;             // documents per Summarizer call; 0 = all in one call
  RougeOptions rouge;
  std::function<void(int64_t documents)> progress;  // after each chunk: the documents it finished
};

struct Predictions {
  std::vector<std::string> texts;            // per document: the best hypothesis' text, "" when there is none
  std::vector<std::vector<int64_t>> tokens;  // its tokens (no EOS), empty when there is none
};

// A reference or prediction that ROUGE refuses (eval/rouge.h's bounds); what() is the scorer's reason.
class DocumentScoreError : public std::length_error {
 public:
  DocumentScoreError(size_t document, const std::string& reason) : std::length_error(reason), document(document) {}
  size_t document;  // index into the corpus
};

// Documents as sentences (Summarizer::summarize_sentences) or as the encoder's source ids (summarize_tokens).
Predictions predict_summaries(const Summarizer& summarizer, const std::vector<std::vector<std::string>>& documents,
                              const CorpusEvaluationOptions& options = {});
Predictions predict_summaries(const Summarizer& summarizer, const std::vector<std::vector<int64_t>>& sources,
                              const CorpusEvaluationOptions& options = {});

// ROUGE of predictions[i] against references[i] (sentences separated by '\n'), per document, for a model's
// predictions or a baseline's. Throws std::invalid_argument when the counts differ, DocumentScoreError on a text
// ROUGE refuses.
std::vector<RougeScores> score_summaries(const std::vector<std::string>& references,
                                         const std::vector<std::string>& predictions, const RougeOptions& options = {});

// Precision, recall and F-measure summed over documents (in order), and divided by `documents`.
RougeScores sum_scores(const std::vector<RougeScores>& scores);
RougeScores divide_scores(RougeScores scores, double documents);
// The mean over documents; zeros for none.
RougeScores mean_scores(const std::vector<RougeScores>& scores);

struct CorpusEvaluation {
  Predictions predictions;
  std::vector<RougeScores> scores;  // per document
  RougeScores mean() const { return mean_scores(scores); }
};

// predict_summaries, then score_summaries against `references` (one per document).
CorpusEvaluation evaluate_corpus(const Summarizer& summarizer, const std::vector<std::vector<std::string>>& documents,
                                 const std::vector<std::string>& references,
                                 const CorpusEvaluationOptions& options = {});
CorpusEvaluation evaluate_corpus(const Summarizer& summarizer, const std::vector<std::vector<int64_t>>& sources,
                                 const std::vector<std::string>& references,
                                 const CorpusEvaluationOptions& options = {});

}  // namespace pyramidion
