// pyramidion tokenizer train|encode|decode
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"
#include "numeric_checks.h"
using namespace pyramidion::cli;  // the option checks
#include "output_paths.h"
#include "pyramidion/data/tokenizer.h"
#include "pyramidion/data/training_text.h"
#include "pyramidion/util/line_reader.h"

namespace fs = std::filesystem;
using namespace pyramidion::data;

namespace {

struct TrainArgs {
  std::vector<std::string> inputs;
  std::string format = "auto";
  int64_t max_documents = 0;
  std::string source_field = "source", target_field = "target";
  TokenizerTrainOptions train;
};

SentencePieceTokenizer load_tokenizer(const std::string& path) {
  try {
    return SentencePieceTokenizer::from_file(path);
  } catch (const std::exception& e) {
    throw pyramidion::cli::CommandError(e.what());
  }
}

void run_train(TrainArgs& args) {
  if (args.train.vocab_size < 8) throw pyramidion::cli::CommandError("--vocab-size must be at least 8");
  pyramidion::cli::refuse_output_over_input(args.train.output_path, args.inputs);
  // Removes the extracted text however training ends.
  struct TempFile {
    std::string path;
    ~TempFile() {
      if (!path.empty()) std::remove(path.c_str());
    }
  } temp;
  if (args.format == "plain") {
    args.train.input_files = args.inputs;  // already one sentence per line
  } else {
    TrainingTextOptions text;
    try {
      text.reader.format = parse_corpus_format(args.format);
    } catch (const std::exception& e) {
      throw pyramidion::cli::CommandError(e.what());
    }
    text.reader.source_field = args.source_field;
    text.reader.target_field = args.target_field;
    text.max_documents = args.max_documents;
    text.max_line_bytes = static_cast<size_t>(std::max(64, args.train.max_sentence_length / 2));
    fs::path out_dir = fs::absolute(args.train.output_path).parent_path();
    temp.path = (out_dir / (".tokenizer-text." + std::to_string(::getpid()) + ".txt")).string();
    auto report = extract_training_text(args.inputs, temp.path, text);
    spdlog::info("training text: {} documents, {} lines, {:.1f} MB", report.documents, report.lines,
                 report.bytes / 1e6);
    if (report.lines == 0) throw pyramidion::cli::CommandError("no text found in the inputs");
    args.train.input_files = {temp.path};
  }
  auto tokenizer = SentencePieceTokenizer::train(args.train);
  spdlog::info("wrote {} (vocabulary {}, {}; pad {} unk {} bos {} eos {} <sep> {})", args.train.output_path,
               tokenizer.vocab_size(), args.train.model_type, tokenizer.pad_id(), tokenizer.unk_id(),
               tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.sentence_separator_id());
}

void run_encode(const std::string& model, bool pieces) {
  auto tokenizer = load_tokenizer(model);
  std::string line;
  std::string out;
  pyramidion::LineReader lines(std::cin, "stdin", stdin);  // a read error is an error, not the end
  while (lines.next(line)) {
    out.clear();
    for (int64_t id : tokenizer.encode(line)) {
      if (!out.empty()) out += ' ';
      out += pieces ? tokenizer.id_to_piece(id) : std::to_string(id);
    }
    std::cout << out << '\n';
  }
}

void run_decode(const std::string& model) {
  auto tokenizer = load_tokenizer(model);
  std::string line;
  pyramidion::LineReader lines(std::cin, "stdin", stdin);
  while (lines.next(line)) {
    const int64_t line_number = lines.line_number();
    std::istringstream words(line);
    std::vector<int64_t> ids;
    std::string word;
    while (words >> word) {
      try {
        size_t used = 0;
        ids.push_back(std::stoll(word, &used));
        if (used != word.size()) throw std::invalid_argument(word);
      } catch (const std::exception&) {
        throw pyramidion::cli::CommandError("stdin:" + std::to_string(line_number) + ": not a token id: " + word);
      }
    }
    try {
      std::cout << tokenizer.decode(ids) << '\n';
    } catch (const std::out_of_range& e) {
      throw pyramidion::cli::CommandError("stdin:" + std::to_string(line_number) + ": " + e.what());
    }
  }
}

}  // namespace

PYRAMIDION_COMMAND("tokenizer", [](CLI::App& app) {
  auto* tokenizer = app.add_subcommand("tokenizer", "train and apply SentencePiece tokenizers");
  tokenizer->require_subcommand(1);

  auto args = std::make_shared<TrainArgs>();
  auto* train = tokenizer->add_subcommand("train", "train a SentencePiece model on corpus text");
  train->add_option("--input,-i", args->inputs, "corpus files (any reader format, or --format plain)")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--format", args->format, "auto, cohan, jsonl, tsv, text-pair, or plain (one sentence a line)")
      ->check(CLI::IsMember({"auto", "cohan", "jsonl", "tsv", "text-pair", "plain"}));
  train->add_option("--source-field", args->source_field, "jsonl: source field");
  train->add_option("--target-field", args->target_field, "jsonl: target field");
  train->add_option("--max-documents", args->max_documents, "documents used from each input (0 = all)")
      ->check(non_negative_number());
  train->add_option("--vocab-size", args->train.vocab_size, "vocabulary size")
      ->check(number_range(5, 1 << 24))
      ->required();
  train
      ->add_option("--model-type", args->train.model_type, "unigram, bpe or word (whole words; rare ones become <unk>)")
      ->check(CLI::IsMember({"unigram", "bpe", "word"}));
  train->add_option("--character-coverage", args->train.character_coverage, "share of characters covered")
      ->check(finite_number_check(0, false, 1, "in (0, 1]"));
  train->add_option("--max-sentence-length", args->train.max_sentence_length, "bytes; longer lines are cut")
      ->check(positive_number());
  train->add_option("--input-sentence-size", args->train.input_sentence_size, "sentences sampled (0 = all)")
      ->check(non_negative_number());
  train->add_option("--seed", args->train.seed, "random seed");
  train->add_option("--train-threads", args->train.threads, "training threads (default: all cores)")
      ->check(number_range(0, 1024));
  train->add_flag("--byte-fallback", args->train.byte_fallback, "unknown characters as UTF-8 bytes");
  train->add_flag("--verbose", args->train.verbose, "show SentencePiece's training log");
  train->add_option("--output,-o", args->train.output_path, "the .model file to write")->required();
  train->callback([args]() { run_train(*args); });

  auto model = std::make_shared<std::string>();
  auto pieces = std::make_shared<bool>(false);
  auto* encode = tokenizer->add_subcommand("encode", "stdin lines -> token ids (or pieces) per line");
  encode->add_option("--model,-m", *model, "SentencePiece .model")->required()->check(CLI::ExistingFile);
  encode->add_flag("--pieces", *pieces, "print pieces instead of ids");
  encode->callback([model, pieces]() { run_encode(*model, *pieces); });

  auto* decode = tokenizer->add_subcommand("decode", "stdin lines of token ids -> text (<sep> becomes a newline)");
  decode->add_option("--model,-m", *model, "SentencePiece .model")->required()->check(CLI::ExistingFile);
  decode->callback([model]() { run_decode(*model); });
});
