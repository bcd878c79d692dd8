// Reader plumbing shared by every format: errors, format names and detection, the skip/count policy.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "line_source.h"
#include "pyramidion/util/json_depth.h"
#include "pyramidion/util/text_predicates.h"
#include "record_reader.h"

namespace pyramidion::data {

std::unique_ptr<ExampleReader> make_cohan_reader(const std::string& path, const ReaderOptions& options);
std::unique_ptr<ExampleReader> make_jsonl_reader(const std::string& path, const ReaderOptions& options);
std::unique_ptr<ExampleReader> make_tsv_reader(const std::string& path, const ReaderOptions& options);
std::unique_ptr<ExampleReader> make_text_pair_reader(const std::string& path, const ReaderOptions& options);

namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) text += '\n';
    text += lines[i];
  }
  return text;
}

}  // namespace

std::string SummarizationExample::source() const { return join_lines(source_sentences); }
std::string SummarizationExample::target() const { return join_lines(target_sentences); }

DataError::DataError(const std::string& file, int64_t line, const std::string& message)
    : std::runtime_error(file + ":" + std::to_string(line) + ": " + message), file_(file), line_(line) {}

CorpusFormat parse_corpus_format(const std::string& name) {
  if (name == "auto") return CorpusFormat::kAuto;
  if (name == "cohan") return CorpusFormat::kCohan;
  if (name == "jsonl") return CorpusFormat::kJsonl;
  if (name == "tsv") return CorpusFormat::kTsv;
  if (name == "text-pair") return CorpusFormat::kTextPair;
  throw std::invalid_argument("unknown corpus format \"" + name + "\" (auto, cohan, jsonl, tsv, text-pair)");
}

std::string format_name(CorpusFormat format) {
  switch (format) {
    case CorpusFormat::kAuto:
      return "auto";
    case CorpusFormat::kCohan:
      return "cohan";
    case CorpusFormat::kJsonl:
      return "jsonl";
    case CorpusFormat::kTsv:
      return "tsv";
    case CorpusFormat::kTextPair:
      return "text-pair";
  }
  return "?";
}

CorpusFormat detect_format(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::exists(path)) {
    if (fs::exists(path + ".source") && fs::exists(path + ".target")) return CorpusFormat::kTextPair;
    throw std::runtime_error("cannot open " + path + ": no such file");
  }
  std::string plain = strip_compression_suffix(path);
  if (ends_with(plain, ".tsv")) return CorpusFormat::kTsv;
  if (ends_with(plain, ".source")) return CorpusFormat::kTextPair;
  LineSource lines(path);
  std::string line;
  while (lines.next(line)) {
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    if (line[first] != '{') break;
    if (!json_depth_ok(line))
      throw std::runtime_error(path + ":" + std::to_string(lines.line_number()) + ": " + json_depth_message());
    auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.contains("article_text") && record.contains("abstract_text"))
      return CorpusFormat::kCohan;
    return CorpusFormat::kJsonl;
  }
  if (line.find('\t') != std::string::npos) return CorpusFormat::kTsv;
  throw std::runtime_error("cannot detect the format of " + path + "; pass it explicitly (--format)");
}

std::unique_ptr<ExampleReader> open_reader(const std::string& path, const ReaderOptions& options) {
  CorpusFormat format = options.format == CorpusFormat::kAuto ? detect_format(path) : options.format;
  switch (format) {
    case CorpusFormat::kCohan:
      return make_cohan_reader(path, options);
    case CorpusFormat::kJsonl:
      return make_jsonl_reader(path, options);
    case CorpusFormat::kTsv:
      return make_tsv_reader(path, options);
    case CorpusFormat::kTextPair:
      return make_text_pair_reader(path, options);
    case CorpusFormat::kAuto:
      break;
  }
  throw std::logic_error("unreachable corpus format");
}

// ---------------------------------------------------------------- RecordReader

bool RecordReader::next(SummarizationExample& example) {
  while (true) {
    example = SummarizationExample{};
    try {
      if (!read_record(example)) return false;
    } catch (const DataError& error) {
      ++stats_.errors;
      if (stats_.errors > options_.max_errors) throw;
      warn(std::string(error.what()) + " (skipped)");
      continue;
    }
    clean_sentences(example.source_sentences);
    clean_sentences(example.target_sentences);
    const char* empty = example.source_sentences.empty()   ? "empty document"
                        : example.target_sentences.empty() ? "empty summary"
                                                           : nullptr;
    if (empty == nullptr) {
      ++stats_.read;
      return true;
    }
    std::string what = std::string(empty) + (example.id.empty() ? "" : " (id " + example.id + ")");
    if (options_.strict) throw DataError(where_file_, where_line_, what);
    ++stats_.skipped_empty;
    warn(DataError(where_file_, where_line_, what + ", skipped").what());
  }
}

void RecordReader::warn(const std::string& message) {
  constexpr int kMaxWarnings = 10;  // the counts say the rest
  if (warnings_ < kMaxWarnings)
    spdlog::warn("{}", message);
  else if (warnings_ == kMaxWarnings)
    spdlog::warn("{}: further warnings not shown", where_file_);
  ++warnings_;
}

void clean_sentences(std::vector<std::string>& sentences) {
  std::vector<std::string> kept;
  kept.reserve(sentences.size());
  for (auto& sentence : sentences) {
    size_t begin = sentence.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) continue;
    size_t end = sentence.find_last_not_of(" \t\r\n");
    kept.push_back(sentence.substr(begin, end - begin + 1));
  }
  sentences = std::move(kept);
}

std::vector<std::string> split_sentences(const std::string& text, const std::string& delimiter) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find('\n', start);
    parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (delimiter.empty()) return parts;
  std::vector<std::string> sentences;
  for (const auto& part : parts) {
    size_t from = 0;
    while (true) {
      size_t at = part.find(delimiter, from);
      sentences.push_back(part.substr(from, at == std::string::npos ? std::string::npos : at - from));
      if (at == std::string::npos) break;
      from = at + delimiter.size();
    }
  }
  return sentences;
}

}  // namespace pyramidion::data
