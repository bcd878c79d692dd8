#include "pyramidion/data/prepare.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "dataset_directory.h"
#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/data/tokenizer.h"
#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/progress.h"
#include "pyramidion/util/thread_pool.h"

namespace fs = std::filesystem;

namespace pyramidion::data {
namespace {

// [bos (when >= 0)] + ids + eos, at most max_length tokens in all (ids are cut to make room); returns whether
// anything was cut. max_length >= 2 (one token and EOS): with a BOS and max_length 2 no token of ids is kept.
bool frame_and_truncate(std::vector<int64_t>& ids, int max_length, int64_t bos, int64_t eos) {
  const int64_t framing = bos >= 0 ? 2 : 1;
  const int64_t room = std::max<int64_t>(max_length - framing, 0);
  bool truncated = false;
  if (static_cast<int64_t>(ids.size()) > room) {
    ids.resize(static_cast<size_t>(room));
    truncated = true;
  }
  if (bos >= 0) ids.insert(ids.begin(), bos);
  ids.push_back(eos);
  return truncated;
}

nlohmann::json read_meta(const fs::path& meta_path) {
  std::ifstream in(meta_path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(meta_path.string() + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}

// The file a dataset keeps its tokenizer in, by kind.
const char* tokenizer_file_name(const Tokenizer& tokenizer) {
  for (const auto& kind_and_file : kDatasetTokenizerFiles)
    if (std::string(tokenizer.kind()) == kind_and_file[0]) return kind_and_file[1];
  throw std::logic_error(std::string("no dataset file name for tokenizer kind ") + tokenizer.kind());
}

struct EncodedExample {
  std::vector<int64_t> source, target;
  bool source_truncated = false, target_truncated = false;
};

SplitReport prepare_split(const Tokenizer& tokenizer, const SplitInput& split, const PrepareOptions& options,
                          ThreadPool& pool) {
  SplitReport report;
  report.name = split.name;
  report.input_path = split.path;
  report.output_path = (fs::path(options.output_dir) / (split.name + ".bin")).string();
  auto reader = open_reader(split.path, options.reader);
  BinaryDatasetWriter writer(report.output_path, tokenizer.vocab_size(), tokenizer_checksum(tokenizer.serialized()));
  // Validation scores ROUGE against the full reference, not the truncated target tokens: valid/test keep it.
  const bool keep_references = split.name != "train";

  ProgressOptions progress;
  progress.label = "prepare " + split.name;
  progress.unit = "docs";
  progress.mode = options.progress ? ProgressOptions::Mode::kAuto : ProgressOptions::Mode::kOff;
  ProgressBar bar(progress);

  const size_t chunk = std::max<size_t>(1, options.chunk_size);
  std::vector<SummarizationExample> examples(chunk);
  std::vector<EncodedExample> encoded(chunk);
  bool more = true;
  while (more) {
    size_t n = 0;
    while (n < chunk && (more = reader->next(examples[n]))) ++n;
    pool.parallel_for(n, [&](size_t i) {
      EncodedExample& out = encoded[i];
      encode_example(tokenizer, examples[i], options, out.source, out.target, out.source_truncated,
                     out.target_truncated);
      bar.advance();
    });
    for (size_t i = 0; i < n; ++i) {  // written in input order
      std::string reference;
      if (keep_references)
        for (const auto& sentence : examples[i].target_sentences)
          reference += (reference.empty() ? "" : "\n") + sentence;
      writer.add(examples[i].id, encoded[i].source, encoded[i].target, reference);
      report.source_truncated += encoded[i].source_truncated;
      report.target_truncated += encoded[i].target_truncated;
      report.source_tokens += static_cast<int64_t>(encoded[i].source.size());
      report.target_tokens += static_cast<int64_t>(encoded[i].target.size());
    }
  }
  bar.finish();
  writer.finish();
  report.read = reader->stats();
  report.examples = static_cast<int64_t>(writer.size());
  return report;
}

}  // namespace

bool cut_to_byte_budget(std::vector<std::string>& sentences, size_t max_bytes) {
  size_t used = 0;
  for (size_t i = 0; i < sentences.size(); ++i) {
    if (i > 0) ++used;  // the separator
    std::string& sentence = sentences[i];
    if (used <= max_bytes && sentence.size() <= max_bytes - used) {
      used += sentence.size();
      continue;
    }
    size_t keep = used < max_bytes ? max_bytes - used : 0;
    while (keep > 0 && (static_cast<unsigned char>(sentence[keep]) & 0xC0) == 0x80) --keep;  // inside a character
    sentence.resize(keep);
    sentence.shrink_to_fit();
    sentences.resize(keep > 0 ? i + 1 : i);
    return true;
  }
  return false;
}

void encode_example(const Tokenizer& tokenizer, const SummarizationExample& example, const PrepareOptions& options,
                    std::vector<int64_t>& source, std::vector<int64_t>& target, bool& source_truncated,
                    bool& target_truncated) {
  const size_t budget = kSourceBytesPerToken * static_cast<size_t>(std::max(options.max_source_length, 1));
  size_t bytes = 0;
  for (const auto& sentence : example.source_sentences) bytes += sentence.size() + 1;
  std::vector<std::string> cut;
  bool source_cut = false;
  if (bytes > budget + 1) {  // a document that is too long: only about the budget's worth of it is copied
    size_t copied = 0;
    for (const auto& sentence : example.source_sentences) {
      if (copied > budget) break;
      cut.push_back(sentence.size() > budget ? sentence.substr(0, budget + 1) : sentence);
      copied += sentence.size() + 1;
    }
    source_cut = cut_to_byte_budget(cut, budget);
  }
  const std::vector<std::string>& sentences = source_cut ? cut : example.source_sentences;
  if (options.source_sentence_separators) {
    source = tokenizer.encode_sentences(sentences);
  } else {
    std::string text;
    for (const auto& sentence : sentences) text += (text.empty() ? "" : " ") + sentence;
    source = tokenizer.encode(text);
  }
  target = tokenizer.encode_sentences(example.target_sentences);
  const int64_t bos = tokenizer.bos_id();
  if ((options.source_bos || options.target_bos) && (bos < 0 || bos == tokenizer.eos_id()))
    throw std::invalid_argument("source_bos / target_bos: the tokenizer has no BOS piece distinct from EOS");
  source_truncated =
      frame_and_truncate(source, options.max_source_length, options.source_bos ? bos : -1, tokenizer.eos_id()) ||
      source_cut;
  target_truncated =
      frame_and_truncate(target, options.max_target_length, options.target_bos ? bos : -1, tokenizer.eos_id());
}

DatasetFraming dataset_framing(const std::string& dataset_dir) {
  DatasetFraming framing;
  const fs::path meta_path = fs::path(dataset_dir) / "meta.json";
  std::error_code ec;
  if (!fs::is_regular_file(meta_path, ec)) return framing;
  const nlohmann::json meta = read_meta(meta_path);
  for (auto [key, value] :
       {std::pair<const char*, bool*>{"source_sentence_separators", &framing.source_sentence_separators},
        {"source_bos", &framing.source_bos},
        {"target_bos", &framing.target_bos}}) {
    const auto it = meta.find(key);
    if (it == meta.end()) continue;
    if (!it->is_boolean()) throw std::runtime_error(meta_path.string() + ": " + key + " must be true or false");
    *value = it->get<bool>();
  }
  return framing;
}

std::string dataset_tokenizer_path(const std::string& dataset_dir) {
  const fs::path dir(dataset_dir);
  const fs::path meta_path = dir / "meta.json";
  std::error_code ec;
  if (fs::is_regular_file(meta_path, ec)) {
    const nlohmann::json meta = read_meta(meta_path);
    const auto it = meta.find("tokenizer");
    if (it != meta.end()) {
      const std::string name = it->is_string() ? it->get<std::string>() : "";
      std::string known;
      for (const auto& kind_and_file : kDatasetTokenizerFiles) {
        if (name == kind_and_file[1]) return (dir / name).string();
        known += std::string(known.empty() ? "" : ", ") + "\"" + kind_and_file[1] + "\"";
      }
      throw std::runtime_error(meta_path.string() + ": tokenizer must be one of " + known);
    }
  }
  return (dir / "spm.model").string();
}

PrepareReport prepare_dataset(const PrepareOptions& options) {
  if (options.max_source_length < 2 || options.max_target_length < 2)
    throw std::invalid_argument("maximum lengths must be at least 2 (one token and EOS)");
  if (options.splits.empty()) throw std::invalid_argument("no input splits to prepare");
  if (options.output_dir.empty()) throw std::invalid_argument("no output directory");
  // What an interrupted run left is put back or removed first; then an output this command may not replace is
  // refused before anything is read.
  fs::path final_dir = fs::absolute(options.output_dir).lexically_normal();
  if (final_dir.filename().empty()) final_dir = final_dir.parent_path();  // "out/" -> "out"
  std::vector<std::string> inputs;
  for (const auto& split : options.splits) inputs.push_back(split.path);
  recover_interrupted_prepare(final_dir);
  check_dataset_output(final_dir, inputs);
  // Fail on a missing or unrecognizable input before writing anything.
  for (const auto& split : options.splits) {
    if (options.reader.format == CorpusFormat::kAuto)
      detect_format(split.path);
    else if (options.reader.format != CorpusFormat::kTextPair && !fs::exists(split.path))
      throw std::runtime_error("cannot open " + split.path + ": no such file");
  }
  if (options.threads < 0 || options.threads > kMaxPrepareThreads)
    throw std::invalid_argument("threads: " + std::to_string(options.threads) + " is outside 0.." +
                                std::to_string(kMaxPrepareThreads));
  const Tokenizer tokenizer = Tokenizer::from_file(options.tokenizer_path);
  check_tokenizer_for_training(tokenizer, options.tokenizer_path);
  if (options.source_sentence_separators && tokenizer.sentence_separator_id() < 0)
    throw std::invalid_argument(options.tokenizer_path + ": --source-sep needs a <sep> piece, which this " +
                                tokenizer.kind() + " tokenizer does not have");
  if ((options.source_bos || options.target_bos) &&
      (tokenizer.bos_id() < 0 || tokenizer.bos_id() == tokenizer.eos_id()))
    throw std::invalid_argument(options.tokenizer_path + ": --" + (options.source_bos ? "source" : "target") +
                                "-bos needs a BOS piece distinct from EOS, which this tokenizer does not have");
  // Everything is written into a staging directory beside the output and swapped in at the end, so an existing output
  // directory is replaced whole (never a mix of old and new files) and an error leaves it untouched. Only a directory
  // that an earlier `data prepare` wrote may be replaced (src/data/dataset_directory.h).
  const fs::path staging = create_staging_directory(final_dir);
  struct StagingCleanup {
    fs::path path;
    ~StagingCleanup() {
      std::error_code ec;
      if (!path.empty()) fs::remove_all(path, ec);  // created by this run: everything in it is ours
    }
  } cleanup{staging};
  PrepareOptions staged = options;
  staged.output_dir = staging.string();
  write_file_atomically((staging / tokenizer_file_name(tokenizer)).string(), tokenizer.serialized());

  ThreadPool pool(options.threads);
  PrepareReport report;
  nlohmann::json meta;
  meta["format_version"] = kBinaryDatasetVersion;
  meta["tokenizer"] = tokenizer_file_name(tokenizer);
  meta["tokenizer_kind"] = tokenizer.kind();
  meta["tokenizer_source"] = fs::absolute(options.tokenizer_path).string();
  meta["vocab_size"] = tokenizer.vocab_size();
  meta["tokenizer_checksum"] = tokenizer_checksum_text(tokenizer_checksum(tokenizer.serialized()));
  meta["special_ids"] = {{"pad", tokenizer.pad_id()},
                         {"unk", tokenizer.unk_id()},
                         {"bos", tokenizer.bos_id()},
                         {"eos", tokenizer.eos_id()},
                         {"sep", tokenizer.sentence_separator_id()}};
  meta["max_source_length"] = options.max_source_length;
  meta["max_target_length"] = options.max_target_length;
  meta["source_sentence_separators"] = options.source_sentence_separators;
  meta["source_bos"] = options.source_bos;
  meta["target_bos"] = options.target_bos;
  meta["token_width"] = tokenizer.vocab_size() <= 65536 ? 2 : 4;
  for (const auto& split : options.splits) {
    SplitReport done = prepare_split(tokenizer, split, staged, pool);
    done.output_path = (final_dir / fs::path(done.output_path).filename()).string();
    spdlog::info(
        "{}: {} examples from {} ({} skipped empty, {} malformed); truncated {} sources, {} targets; "
        "{} source + {} target tokens -> {}",
        done.name, done.examples, done.input_path, done.read.skipped_empty, done.read.errors, done.source_truncated,
        done.target_truncated, done.source_tokens, done.target_tokens, done.output_path);
    meta["splits"][done.name] = {{"file", done.name + ".bin"},
                                 {"input", done.input_path},
                                 {"examples", done.examples},
                                 {"skipped_empty", done.read.skipped_empty},
                                 {"malformed", done.read.errors},
                                 {"source_truncated", done.source_truncated},
                                 {"target_truncated", done.target_truncated},
                                 {"source_tokens", done.source_tokens},
                                 {"target_tokens", done.target_tokens}};
    report.splits.push_back(std::move(done));
  }
  write_file_atomically((staging / "meta.json").string(), meta.dump(2) + "\n");
  report.meta_path = (final_dir / "meta.json").string();
  check_dataset_output(final_dir, inputs);  // again: the directory may have changed while this run worked
  swap_in_dataset(staging, final_dir);
  cleanup.path.clear();  // `staging` is gone, or holds the previous dataset's leftovers
  return report;
}

}  // namespace pyramidion::data
