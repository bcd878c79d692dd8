// `pyramidion evaluate`: generate summaries for a test file and report ROUGE (table, or JSON with --json).
// `--baseline lead-N` scores the first N source sentences instead of a model; `--baseline lead-oracle` the
// oracle-length lead (per document, the fewest first sentences whose words reach the reference's word count).
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <optional>

#include "command.h"
#include "decoding_options.h"
#include "model_loading.h"
#include "numeric_checks.h"
#include "output_paths.h"
#include "pyramidion/data/readers.h"
#include "pyramidion/eval/lead_baseline.h"
#include "pyramidion/eval/rouge.h"
#include "pyramidion/evaluation/corpus_evaluation.h"
#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/progress.h"
#include "rouge_report.h"

namespace pyramidion::cli {
namespace {

struct EvaluateOptions {
  std::string model;
  std::string data;
  std::string baseline;  // "lead-N" or "lead-oracle"
  std::string format = "auto";
  std::string source_field = "source", target_field = "target";
  int64_t max_docs = 0;
  std::string predictions;
  SummarizerOptions loading;
  bool no_stem = false;
  bool json = false;
  int64_t chunk = 64;
  GenerationOptions generation;
  bool max_len_b_given = false;  // otherwise the default is fitted to the model
  BootstrapOptions bootstrap;
};

constexpr int64_t kOracleLead = -1;

// N of lead-N, or kOracleLead.
int64_t lead_count(const std::string& baseline) {
  if (baseline == "lead-oracle") return kOracleLead;
  if (baseline.rfind("lead-", 0) != 0)
    throw CommandError("--baseline " + baseline + ": expected lead-N (e.g. lead-3) or lead-oracle");
  try {
    const int64_t n = std::stoll(baseline.substr(5));
    if (n < 1) throw std::invalid_argument("n");
    return n;
  } catch (const std::exception&) {
    throw CommandError("--baseline " + baseline + ": expected lead-N with N >= 1");
  }
}

void run(const EvaluateOptions& o) {
  if (o.model.empty() == o.baseline.empty())
    throw CommandError("evaluate: give either -m MODEL or --baseline lead-N / lead-oracle");
  const int64_t lead = o.baseline.empty() ? 0 : lead_count(o.baseline);  // checked before reading the data
  refuse_output_over_input(o.predictions, {o.data, o.model});
  data::ReaderOptions reader;
  try {
    reader.format = data::parse_corpus_format(o.format);
  } catch (const std::exception& e) {
    throw CommandError(std::string("--format: ") + e.what());
  }
  reader.source_field = o.source_field;
  reader.target_field = o.target_field;
  std::vector<data::SummarizationExample> examples;
  try {
    auto input = data::open_reader(o.data, reader);
    data::SummarizationExample example;
    while ((o.max_docs <= 0 || static_cast<int64_t>(examples.size()) < o.max_docs) && input->next(example))
      examples.push_back(example);
    if (input->stats().skipped_empty > 0)
      spdlog::warn("{}: skipped {} examples with an empty document or summary", o.data, input->stats().skipped_empty);
  } catch (const CommandError&) {
    throw;
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
  if (examples.empty()) throw CommandError(o.data + ": no examples to evaluate");

  std::vector<std::string> predictions(examples.size());
  std::string system = o.baseline;
  if (!o.baseline.empty()) {
    int64_t sentences = 0;
    for (size_t i = 0; i < examples.size(); ++i) {
      const auto& source = examples[i].source_sentences;
      const size_t count =
          lead == kOracleLead ? oracle_length_lead_count(source, examples[i].target()) : static_cast<size_t>(lead);
      predictions[i] = lead_summary(source, count);
      sentences += static_cast<int64_t>(std::min(count, source.size()));
    }
    spdlog::info("{}: {:.2f} sentences per summary on average", o.baseline,
                 static_cast<double>(sentences) / static_cast<double>(examples.size()));
  } else {
    const Summarizer summarizer = load_summarizer(o.model, o.loading);
    CorpusEvaluationOptions evaluation;
    evaluation.generation = o.generation;
    fit_length_to_model(evaluation.generation, summarizer.config(), o.max_len_b_given);
    evaluation.chunk = o.chunk;
    system = o.model;
    ProgressOptions progress_options;
    progress_options.label = "evaluate";
    progress_options.unit = "docs";
    progress_options.total = static_cast<int64_t>(examples.size());
    ProgressBar progress(progress_options);
    evaluation.progress = [&progress](int64_t documents) { progress.advance(documents); };
    std::vector<std::vector<std::string>> sources;  // moved out: only ids and targets are read from here on
    for (auto& example : examples) sources.push_back(std::move(example.source_sentences));
    predictions = predict_summaries(summarizer, sources, evaluation).texts;
    progress.finish();
  }

  // Scored as the library scores every corpus (evaluation/corpus_evaluation.h); the bootstrap over the documents.
  std::vector<std::string> targets;
  for (const auto& example : examples) targets.push_back(example.target());
  std::vector<RougeScores> scores;
  try {
    scores = score_summaries(targets, predictions, RougeOptions{!o.no_stem});
  } catch (const DocumentScoreError& e) {
    throw CommandError(o.data + ": example " + std::to_string(e.document + 1) + " (" + examples[e.document].id +
                       "): " + e.what());
  }
  RougeBootstrapAggregator aggregator(o.bootstrap);
  for (const auto& score : scores) aggregator.add(score);
  std::unique_ptr<AtomicFileWriter> writer;
  if (!o.predictions.empty()) writer = std::make_unique<AtomicFileWriter>(o.predictions, false);
  for (size_t i = 0; writer && i < examples.size(); ++i) {
    nlohmann::ordered_json record{{"id", examples[i].id}, {"target", targets[i]}, {"prediction", predictions[i]}};
    writer->stream() << record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  if (writer) writer->commit();
  const auto corpus = aggregator.aggregate();
  const RougeReportOptions report{!o.no_stem, "", o.bootstrap};
  if (o.json) {
    auto out = rouge_report_json(corpus, report);
    out["system"] = system;
    out["data"] = o.data;
    std::cout << out.dump(2) << "\n";
  } else {
    fmt::print("system: {}\ndata:   {}\n", system, o.data);
    print_rouge_table(corpus, report);
  }
}

}  // namespace

PYRAMIDION_COMMAND("evaluate", [](CLI::App& app) {
  auto o = std::make_shared<EvaluateOptions>();
  auto* cmd = app.add_subcommand("evaluate", "generate summaries for a test set and report ROUGE");
  cmd->add_option("-m,--model", o->model, "model file");
  cmd->add_option(
      "--baseline", o->baseline,
      "lead-N: score the first N source sentences instead of a model; lead-oracle: per document the fewest first "
      "sentences whose words reach the reference's");
  // -i/--input as every command that reads documents; --data kept as the earlier name.
  cmd->add_option("-i,--input,--data", o->data, "test file: arXiv/PubMed JSONL, JSONL, TSV or text pair")->required();
  cmd->add_option("--format", o->format, "auto, cohan, jsonl, tsv, text-pair")->capture_default_str();
  cmd->add_option("--source-field", o->source_field, "JSONL source field")->capture_default_str();
  cmd->add_option("--target-field", o->target_field, "JSONL target field")->capture_default_str();
  cmd->add_option("--max-docs", o->max_docs, "evaluate only the first N documents (0 = all)")
      ->check(non_negative_number())
      ->capture_default_str();
  cmd->add_option("--predictions", o->predictions, "write {id, target, prediction} JSONL (input of `rouge --pairs`)");
  add_model_loading_options(*cmd, o->loading);
  cmd->add_option("--chunk", o->chunk, "documents generated per chunk")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--bootstrap-samples", o->bootstrap.samples, "bootstrap resamples")
      ->check(number_range(1, kMaxBootstrapSamples))
      ->capture_default_str();
  cmd->add_flag("--no-stem", o->no_stem, "no Porter stemming");
  cmd->add_flag("--json", o->json, "machine-readable output");
  add_decoding_options(*cmd, o->generation);
  cmd->callback([o, cmd] {
    o->max_len_b_given = cmd->count("--max-len-b") > 0;
    run(*o);
  });
});

}  // namespace pyramidion::cli
