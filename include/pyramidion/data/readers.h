#pragma once
// Streaming readers of summarization corpora: Cohan et al. arXiv/PubMed JSONL, generic JSONL, TSV, and
// a pair of plain-text files. Files ending in .xz (or .gz) are decompressed in-process (liblzma, zlib).
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pyramidion::data {

struct SummarizationExample {
  std::string id;
  std::vector<std::string> source_sentences;  // one entry when the format has no sentence structure
  std::vector<std::string> target_sentences;
  // The document as one text, sentences joined by '\n'.
  std::string source() const;
  std::string target() const;
};

enum class CorpusFormat {
  kAuto,      // from the extension and the first record
  kCohan,     // {"article_id", "article_text": [...], "abstract_text": ["<S> ... </S>", ...]}
  kJsonl,     // one object a line with configurable fields, each a string or a list of strings
  kTsv,       // source<TAB>target
  kTextPair,  // PATH.source and PATH.target, one example per line each
};

// "auto", "cohan", "jsonl", "tsv", "text-pair"; throws std::invalid_argument on anything else.
CorpusFormat parse_corpus_format(const std::string& name);
std::string format_name(CorpusFormat format);

struct ReaderOptions {
  CorpusFormat format = CorpusFormat::kAuto;
  std::string source_field = "source";  // kJsonl
  std::string target_field = "target";  // kJsonl
  std::string id_field = "id";          // kJsonl; absent = the line number
  // Splits string targets (TSV, text pairs, JSONL strings) into sentences; "" = keep whole.
  std::string target_sentence_delimiter;
  // Empty documents/summaries: false = count, warn and skip; true = error.
  bool strict = false;
  // Malformed records tolerated (counted, warned and skipped) before the next one is an error.
  int64_t max_errors = 0;
};

struct ReadStats {
  int64_t read = 0;           // examples returned
  int64_t skipped_empty = 0;  // empty source or target
  int64_t errors = 0;         // malformed records skipped (see ReaderOptions::max_errors)
};

// A malformed input; what() reads "FILE:LINE: message".
class DataError : public std::runtime_error {
 public:
  DataError(const std::string& file, int64_t line, const std::string& message);
  const std::string& file() const { return file_; }
  int64_t line() const { return line_; }

 private:
  std::string file_;
  int64_t line_;
};

class ExampleReader {
 public:
  virtual ~ExampleReader() = default;
  // Fills `example` and returns true, or returns false at the end. Throws DataError.
  virtual bool next(SummarizationExample& example) = 0;
  virtual const ReadStats& stats() const = 0;
  virtual CorpusFormat format() const = 0;
};

// `path`: the file (for kTextPair: the prefix of PATH.source/PATH.target, or the .source file itself).
std::unique_ptr<ExampleReader> open_reader(const std::string& path, const ReaderOptions& options = {});

// The format open_reader would pick for `path` under kAuto.
CorpusFormat detect_format(const std::string& path);

}  // namespace pyramidion::data
