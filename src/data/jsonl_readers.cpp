// JSON-lines readers: the Cohan et al. arXiv/PubMed layout and generic records with configurable fields.
#include <nlohmann/json.hpp>

#include "line_source.h"
#include "pyramidion/util/json_depth.h"
#include "record_reader.h"

namespace pyramidion::data {
namespace {

using nlohmann::json;

// Removes the <S> ... </S> markers of Cohan abstracts; an entry holding several marked sentences is split.
std::vector<std::string> strip_sentence_markers(const std::vector<std::string>& entries) {
  std::vector<std::string> sentences;
  for (const auto& entry : entries) {
    size_t from = 0;
    while (from <= entry.size()) {
      size_t close = entry.find("</S>", from);
      std::string part = entry.substr(from, close == std::string::npos ? std::string::npos : close - from);
      for (size_t at; (at = part.find("<S>")) != std::string::npos;) part.erase(at, 3);
      sentences.push_back(std::move(part));
      if (close == std::string::npos) break;
      from = close + 4;
    }
  }
  return sentences;
}

class JsonlReader : public RecordReader {
 public:
  JsonlReader(const std::string& path, ReaderOptions options) : RecordReader(std::move(options)), lines_(path) {
    where_file_ = path;
  }

 protected:
  // Parses the next non-blank line into an object.
  bool next_object(json& record) {
    std::string line;
    while (lines_.next(line)) {
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      where_line_ = lines_.line_number();
      if (!json_depth_ok(line)) fail(json_depth_message());
      record = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded()) fail("invalid JSON");
      if (!record.is_object()) fail("expected a JSON object");
      return true;
    }
    return false;
  }

  [[noreturn]] void fail(const std::string& message) const { throw DataError(where_file_, where_line_, message); }

  const json& field(const json& record, const std::string& name) const {
    auto it = record.find(name);
    if (it == record.end()) fail("field \"" + name + "\" is missing");
    return *it;
  }

  std::vector<std::string> string_list(const json& record, const std::string& name) const {
    const json& value = field(record, name);
    if (!value.is_array()) fail("field \"" + name + "\" is not a list of strings");
    std::vector<std::string> out;
    out.reserve(value.size());
    for (const auto& item : value) {
      if (!item.is_string()) fail("field \"" + name + "\" is not a list of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // A string (split on newlines and `delimiter`) or a list of strings.
  std::vector<std::string> sentences(const json& record, const std::string& name, const std::string& delimiter) const {
    const json& value = field(record, name);
    if (value.is_string()) return split_sentences(value.get<std::string>(), delimiter);
    if (value.is_array()) return string_list(record, name);
    fail("field \"" + name + "\" is neither a string nor a list of strings");
  }

  std::string id_of(const json& record, const std::string& name) const {
    auto it = record.find(name);
    if (it == record.end() || it->is_null()) return std::to_string(where_line_);
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number()) return it->dump();
    fail("field \"" + name + "\" is not a string or number");
  }

  LineSource lines_;
};

class CohanReader : public JsonlReader {
 public:
  using JsonlReader::JsonlReader;
  CorpusFormat format() const override { return CorpusFormat::kCohan; }

 protected:
  bool read_record(SummarizationExample& example) override {
    json record;
    if (!next_object(record)) return false;
    example.id = id_of(record, "article_id");
    example.source_sentences = string_list(record, "article_text");
    example.target_sentences = strip_sentence_markers(string_list(record, "abstract_text"));
    return true;
  }
};

class GenericJsonlReader : public JsonlReader {
 public:
  using JsonlReader::JsonlReader;
  CorpusFormat format() const override { return CorpusFormat::kJsonl; }

 protected:
  bool read_record(SummarizationExample& example) override {
    json record;
    if (!next_object(record)) return false;
    example.id = id_of(record, options_.id_field);
    example.source_sentences = sentences(record, options_.source_field, "");
    example.target_sentences = sentences(record, options_.target_field, options_.target_sentence_delimiter);
    return true;
  }
};

}  // namespace

std::unique_ptr<ExampleReader> make_cohan_reader(const std::string& path, const ReaderOptions& options) {
  return std::make_unique<CohanReader>(path, options);
}

std::unique_ptr<ExampleReader> make_jsonl_reader(const std::string& path, const ReaderOptions& options) {
  return std::make_unique<GenericJsonlReader>(path, options);
}

}  // namespace pyramidion::data
