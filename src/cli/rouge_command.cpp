// `pyramidion rouge`: scores summaries with rouge_score-compatible ROUGE and prints corpus means with
// bootstrap confidence intervals (a table, or JSON with --json).
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command.h"
#include "numeric_checks.h"
#include "output_paths.h"
#include "pyramidion/eval/rouge.h"
#include "pyramidion/eval/rouge_bootstrap.h"
#include "rouge_io.h"
#include "rouge_report.h"

namespace pyramidion::cli {
namespace {

struct RougeCommandOptions {
  std::string pairs;
  std::string references;
  std::string predictions;
  std::string per_example;
  std::string filter;
  bool no_stem = false;
  bool json = false;
  BootstrapOptions bootstrap;
};

void run_rouge(const RougeCommandOptions& options) {
  const bool parallel = !options.references.empty() || !options.predictions.empty();
  if (options.pairs.empty() == !parallel)
    throw CommandError("rouge: give either --pairs FILE or both --references and --predictions");
  if (parallel && (options.references.empty() || options.predictions.empty()))
    throw CommandError("rouge: --references and --predictions go together");
  if (parallel && !options.filter.empty())
    throw CommandError("rouge: --filter needs --pairs (it tests a pair's field)");

  refuse_output_over_input(options.per_example, {options.pairs, options.references, options.predictions});
  std::vector<RougeExample> examples =
      parallel ? read_rouge_parallel(options.references, options.predictions) : read_rouge_pairs(options.pairs);
  if (!options.filter.empty()) {
    const RougeFieldFilter filter = RougeFieldFilter::parse(options.filter);
    std::vector<RougeExample> kept;
    for (auto& example : examples)
      if (filter.matches(example.fields)) kept.push_back(std::move(example));
    examples = std::move(kept);
  }
  if (examples.empty())
    throw CommandError((parallel ? options.references : options.pairs) + ": no examples to score" +
                       (options.filter.empty() ? "" : " (none match --filter " + options.filter + ")"));

  const RougeScorer scorer(RougeOptions{!options.no_stem});
  RougeBootstrapAggregator aggregator(options.bootstrap);
  std::vector<RougeScores> scores;
  scores.reserve(examples.size());
  for (const auto& example : examples) {
    try {
      scores.push_back(scorer.score(example.target, example.prediction));
    } catch (const std::length_error& e) {
      throw CommandError((parallel ? options.predictions : options.pairs) + ":" + std::to_string(example.line) + ": " +
                         e.what());
    }
    aggregator.add(scores.back());
  }
  if (!options.per_example.empty()) write_rouge_per_example(options.per_example, examples, scores);

  const RougeCorpusScores corpus = aggregator.aggregate();
  const RougeReportOptions report{!options.no_stem, options.filter, options.bootstrap};
  if (options.json)
    std::cout << rouge_report_json(corpus, report).dump(2) << "\n";
  else
    print_rouge_table(corpus, report);
}

}  // namespace

PYRAMIDION_COMMAND("rouge", [](CLI::App& app) {
  auto options = std::make_shared<RougeCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "rouge", "ROUGE-1/2/L/Lsum as Google's rouge_score computes them, with corpus bootstrap intervals");
  command->add_option("--pairs", options->pairs,
                      "JSONL, one object per line with string fields \"target\" and \"prediction\"");
  command->add_option("--references", options->references,
                      "reference summaries, one per line (plain text, or *.jsonl: a string or list of sentences)");
  command->add_option("--predictions", options->predictions, "predicted summaries, line by line like --references");
  command->add_flag("--no-stem", options->no_stem, "do not Porter-stem tokens (rouge_score use_stemmer=False)");
  command->add_option("--per-example", options->per_example,
                      "write per-example scores as JSONL here (input fields + rouge1..rougeLsum {p,r,f})");
  command->add_flag("--json", options->json, "print the corpus scores as JSON (fractions, not %)");
  command->add_option("--filter", options->filter,
                      "score only pairs whose string field equals VALUE: FIELD=VALUE, or FIELD=PREFIX* ");
  command->add_option("--bootstrap-samples", options->bootstrap.samples, "bootstrap resamples")
      ->check(number_range(1, kMaxBootstrapSamples))
      ->check(positive_number());
  command->add_option("--confidence", options->bootstrap.confidence, "confidence interval mass")
      ->check(number_range(0.0, 1.0));
  command->add_option("--seed", options->bootstrap.seed, "bootstrap random seed");
  command->callback([options] { run_rouge(*options); });
});

}  // namespace pyramidion::cli
