// pyramidion data prepare
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "command.h"
#include "numeric_checks.h"
using namespace pyramidion::cli;  // the option checks
#include "pyramidion/data/prepare.h"

using namespace pyramidion::data;

namespace {

struct PrepareArgs {
  std::string train, valid, test;
  std::string format = "auto";
  std::string source_field = "source", target_field = "target", id_field = "id";
  std::string target_sentence_delimiter;
  bool strict = false;
  bool no_progress = false;
  int64_t max_errors = 0;
  PrepareOptions options;
};

void run_prepare(PrepareArgs& args) {
  PrepareOptions& options = args.options;
  try {
    options.reader.format = parse_corpus_format(args.format);
  } catch (const std::exception& e) {
    throw pyramidion::cli::CommandError(e.what());
  }
  options.reader.source_field = args.source_field;
  options.reader.target_field = args.target_field;
  options.reader.id_field = args.id_field;
  options.reader.target_sentence_delimiter = args.target_sentence_delimiter;
  options.reader.strict = args.strict;
  options.reader.max_errors = args.max_errors;
  options.progress = !args.no_progress;
  options.splits = {{"train", args.train}, {"valid", args.valid}};
  if (!args.test.empty()) options.splits.push_back({"test", args.test});
  if (options.threads <= 0) options.threads = pyramidion::cli::global_options().threads;
  auto report = prepare_dataset(options);
  for (const auto& split : report.splits)
    std::cout << split.name << ": " << split.examples << " examples (" << split.read.skipped_empty << " skipped empty, "
              << split.read.errors << " malformed), truncated " << split.source_truncated << " sources and "
              << split.target_truncated << " targets -> " << split.output_path << "\n";
  std::cout << "meta: " << report.meta_path << "\n";
}

}  // namespace

PYRAMIDION_COMMAND("data", [](CLI::App& app) {
  auto* data = app.add_subcommand("data", "prepare corpora for training");
  data->require_subcommand(1);
  auto args = std::make_shared<PrepareArgs>();
  auto* prepare = data->add_subcommand("prepare", "tokenize train/valid/test once into memory-mapped binary files");
  prepare
      ->add_option("--tokenizer", args->options.tokenizer_path,
                   "SentencePiece .model, or byte-level BPE: tokenizer.json, vocab.json (merges.txt beside it) "
                   "or a folder holding them")
      ->required()
      ->check(CLI::ExistingPath);
  prepare->add_option("--train", args->train, "training corpus")->required();
  prepare->add_option("--valid", args->valid, "validation corpus")->required();
  prepare->add_option("--test", args->test, "test corpus");
  prepare->add_option("--format", args->format, "auto, cohan, jsonl, tsv, text-pair")
      ->check(CLI::IsMember({"auto", "cohan", "jsonl", "tsv", "text-pair"}));
  prepare->add_option("--source-field", args->source_field, "jsonl: source field (string or list of strings)");
  prepare->add_option("--target-field", args->target_field, "jsonl: target field (string or list of strings)");
  prepare->add_option("--id-field", args->id_field, "jsonl: id field (default: the line number)");
  prepare->add_option("--target-sentence-delimiter", args->target_sentence_delimiter,
                      "splits string targets into sentences (e.g. \"<q>\"); newlines always do");
  prepare->add_option("--output,-o", args->options.output_dir, "output directory")->required();
  prepare->add_option("--max-source-length", args->options.max_source_length, "source tokens kept, EOS included")
      ->check(number_range(2, 1 << 30));
  prepare->add_option("--max-target-length", args->options.max_target_length, "target tokens kept, EOS included")
      ->check(number_range(2, 1 << 30));
  prepare->add_flag("--source-sep", args->options.source_sentence_separators,
                    "mark source sentence boundaries with <sep> too");
  prepare->add_flag("--source-bos", args->options.source_bos,
                    "sources as BOS + tokens + EOS (BART's framing; model.source_bos)");
  prepare->add_flag("--target-bos", args->options.target_bos,
                    "targets as BOS + tokens + EOS (BART's framing; model.target_bos: generation forces BOS first)");
  prepare->add_option("--threads", args->options.threads, "tokenizing threads (default: all cores)");
  prepare->add_flag("--strict", args->strict, "empty documents or summaries are errors, not skipped");
  prepare->add_option("--max-errors", args->max_errors, "malformed records skipped before failing (default 0)")
      ->check(non_negative_number());
  prepare->add_flag("--no-progress", args->no_progress, "no progress bar");
  prepare->callback([args]() { run_prepare(*args); });
});
