#include "rouge_report.h"

#include <fmt/core.h>

#include <vector>

namespace pyramidion::cli {
namespace {

struct NamedInterval {
  const char* name;
  const RougeScoreInterval* interval;
};

std::vector<NamedInterval> metrics_of(const RougeCorpusScores& corpus) {
  return {{"rouge1", &corpus.rouge1},
          {"rouge2", &corpus.rouge2},
          {"rougeL", &corpus.rougeL},
          {"rougeLsum", &corpus.rougeLsum}};
}

nlohmann::ordered_json interval_json(const MeanInterval& m) {
  return {{"mean", m.mean}, {"low", m.low}, {"mid", m.mid}, {"high", m.high}};
}

}  // namespace

nlohmann::ordered_json rouge_report_json(const RougeCorpusScores& corpus, const RougeReportOptions& options) {
  nlohmann::ordered_json out;
  out["count"] = corpus.count;
  out["use_stemmer"] = options.use_stemmer;
  if (!options.filter.empty()) out["filter"] = options.filter;
  out["confidence"] = options.bootstrap.confidence;
  out["bootstrap_samples"] = options.bootstrap.samples;
  out["seed"] = options.bootstrap.seed;
  for (const auto& [name, interval] : metrics_of(corpus)) {
    out[name] = {{"precision", interval_json(interval->precision)},
                 {"recall", interval_json(interval->recall)},
                 {"fmeasure", interval_json(interval->fmeasure)}};
  }
  return out;
}

std::string cell(const MeanInterval& m) {
  return fmt::format("{:5.2f} [{:5.2f}, {:5.2f}]", 100 * m.mean, 100 * m.low, 100 * m.high);
}

void print_rouge_table(const RougeCorpusScores& corpus, const RougeReportOptions& options) {
  fmt::print("ROUGE over {} pair{}{}, {}. Mean [{:g}% bootstrap interval; {} resamples, seed {}], in %.\n",
             corpus.count, corpus.count == 1 ? "" : "s",
             options.filter.empty() ? std::string() : " matching " + options.filter,
             options.use_stemmer ? "Porter stemming" : "no stemming", 100 * options.bootstrap.confidence,
             options.bootstrap.samples, options.bootstrap.seed);
  fmt::print("{:<10} {:<22}  {:<22}  {}\n", "metric", "precision", "recall", "F1");
  for (const auto& [name, interval] : metrics_of(corpus))
    fmt::print("{:<10} {:<22}  {:<22}  {}\n", name, cell(interval->precision), cell(interval->recall),
               cell(interval->fmeasure));
}

}  // namespace pyramidion::cli
