// Line-oriented readers: TSV (source<TAB>target) and a pair of plain-text files (PATH.source, PATH.target).
#include <filesystem>
#include <optional>

#include "line_source.h"
#include "pyramidion/util/text_predicates.h"
#include "record_reader.h"

namespace pyramidion::data {
namespace {

class TsvReader : public RecordReader {
 public:
  TsvReader(const std::string& path, ReaderOptions options) : RecordReader(std::move(options)), lines_(path) {
    where_file_ = path;
  }
  CorpusFormat format() const override { return CorpusFormat::kTsv; }

 protected:
  bool read_record(SummarizationExample& example) override {
    std::string line;
    if (!lines_.next(line)) return false;
    where_line_ = lines_.line_number();
    size_t tab = line.find('\t');
    size_t fields = 1;
    for (char c : line) fields += (c == '\t');
    if (fields != 2)
      throw DataError(where_file_, where_line_, "expected 2 tab-separated fields, found " + std::to_string(fields));
    example.id = std::to_string(where_line_);
    example.source_sentences = {line.substr(0, tab)};
    example.target_sentences = split_sentences(line.substr(tab + 1), options_.target_sentence_delimiter);
    return true;
  }

 private:
  LineSource lines_;
};

class TextPairReader : public RecordReader {
 public:
  TextPairReader(const std::string& source_path, const std::string& target_path, ReaderOptions options)
      : RecordReader(std::move(options)), sources_(source_path), targets_(target_path) {
    where_file_ = source_path;
  }
  CorpusFormat format() const override { return CorpusFormat::kTextPair; }

 protected:
  bool read_record(SummarizationExample& example) override {
    std::string source, target;
    bool has_source = sources_.next(source);
    bool has_target = targets_.next(target);
    if (has_source != has_target) {
      // Not a skippable record: the files are out of step from here on.
      const LineSource& shorter = has_source ? targets_ : sources_;
      const LineSource& longer = has_source ? sources_ : targets_;
      options_.max_errors = -1;
      throw DataError(longer.path(), longer.line_number(),
                      "has more lines than " + shorter.path() + " (" + std::to_string(shorter.line_number()) + ")");
    }
    if (!has_source) return false;
    where_line_ = sources_.line_number();
    example.id = std::to_string(where_line_);
    example.source_sentences = {source};
    example.target_sentences = split_sentences(target, options_.target_sentence_delimiter);
    return true;
  }

 private:
  LineSource sources_;
  LineSource targets_;
};

}  // namespace

std::unique_ptr<ExampleReader> make_tsv_reader(const std::string& path, const ReaderOptions& options) {
  return std::make_unique<TsvReader>(path, options);
}

std::unique_ptr<ExampleReader> make_text_pair_reader(const std::string& path, const ReaderOptions& options) {
  std::string prefix = path;
  if (ends_with(path, ".source")) prefix = path.substr(0, path.size() - 7);
  std::string source = prefix + ".source", target = prefix + ".target";
  if (!std::filesystem::exists(source) || !std::filesystem::exists(target))
    throw std::runtime_error("text-pair input " + path + " needs both " + source + " and " + target);
  return std::make_unique<TextPairReader>(source, target, options);
}

}  // namespace pyramidion::data
