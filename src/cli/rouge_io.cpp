// File formats of `pyramidion rouge`; see rouge_io.h.
#include "rouge_io.h"

#include "pyramidion/util/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "command.h"
#include "pyramidion/util/json_depth.h"
#include "pyramidion/util/line_reader.h"

namespace pyramidion::cli {
namespace {

using nlohmann::ordered_json;

std::ifstream open_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandError(path + ": cannot open: " + std::strerror(errno));
  return in;
}

bool is_blank(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

std::string where(const std::string& path, std::size_t line) { return path + ":" + std::to_string(line) + ": "; }

ordered_json parse_json_line(const std::string& path, std::size_t line_number, const std::string& line) {
  if (!json_depth_ok(line)) throw CommandError(where(path, line_number) + "invalid JSON: " + json_depth_message());
  try {
    return ordered_json::parse(line);
  } catch (const ordered_json::parse_error& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line 1, column 5: ...".
    std::string detail = e.what();
    if (auto colon = detail.find(": "); colon != std::string::npos) detail = detail.substr(colon + 2);
    for (char& c : detail)  // it quotes the offending bytes, which may be binary
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
    throw CommandError(where(path, line_number) + "invalid JSON: " + detail);
  }
}

std::string string_field(const std::string& path, std::size_t line_number, const ordered_json& object,
                         const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string())
    throw CommandError(where(path, line_number) + "field \"" + name + "\" missing or not a string");
  return it->get<std::string>();
}

bool has_extension(const std::string& path, const char* extension) {
  return std::filesystem::path(path).extension() == extension;
}

// One summary per line of a parallel input file.
std::vector<std::string> read_summaries(const std::string& path) {
  std::ifstream in = open_input(path);
  const bool jsonl = has_extension(path, ".jsonl");
  std::vector<std::string> summaries;
  std::string line;
  LineReader lines(in, path);
  while (lines.next(line)) {
    const auto line_number = static_cast<std::size_t>(lines.line_number());
    if (!jsonl) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      summaries.push_back(std::move(line));
      continue;
    }
    const ordered_json value = parse_json_line(path, line_number, line);
    if (value.is_string()) {
      summaries.push_back(value.get<std::string>());
      continue;
    }
    if (!value.is_array())
      throw CommandError(where(path, line_number) + "expected a JSON string or a list of sentence strings");
    std::string joined;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_string())
        throw CommandError(where(path, line_number) + "sentence " + std::to_string(i + 1) + " is not a string");
      if (i > 0) joined.push_back('\n');
      joined += value[i].get<std::string>();
    }
    summaries.push_back(std::move(joined));
  }
  return summaries;
}

ordered_json score_json(const RougeScore& score) {
  // rouge_score's names, as in the summary JSON (one name per quantity everywhere).
  return ordered_json{{"precision", score.precision}, {"recall", score.recall}, {"fmeasure", score.fmeasure}};
}

}  // namespace

RougeFieldFilter RougeFieldFilter::parse(const std::string& spec) {
  const auto equals = spec.find('=');
  if (equals == std::string::npos || equals == 0)
    throw CommandError("--filter expects FIELD=VALUE (VALUE may end in '*' for a prefix), got \"" + spec + "\"");
  RougeFieldFilter filter;
  filter.field = spec.substr(0, equals);
  filter.value = spec.substr(equals + 1);
  if (!filter.value.empty() && filter.value.back() == '*') {
    filter.prefix = true;
    filter.value.pop_back();
  }
  return filter;
}

bool RougeFieldFilter::matches(const nlohmann::ordered_json& fields) const {
  auto it = fields.find(field);
  if (it == fields.end() || !it->is_string()) return false;
  const std::string& actual = it->get_ref<const std::string&>();
  return prefix ? actual.compare(0, value.size(), value) == 0 : actual == value;
}

std::vector<RougeExample> read_rouge_pairs(const std::string& path) {
  std::ifstream in = open_input(path);
  std::vector<RougeExample> examples;
  std::string line;
  LineReader lines(in, path);
  while (lines.next(line)) {
    const auto line_number = static_cast<std::size_t>(lines.line_number());
    if (is_blank(line)) continue;
    ordered_json object = parse_json_line(path, line_number, line);
    if (!object.is_object()) throw CommandError(where(path, line_number) + "expected a JSON object");
    RougeExample example;
    example.line = line_number;
    example.target = string_field(path, line_number, object, "target");
    example.prediction = string_field(path, line_number, object, "prediction");
    object.erase("target");
    object.erase("prediction");
    example.fields = std::move(object);
    examples.push_back(std::move(example));
  }
  return examples;
}

std::vector<RougeExample> read_rouge_parallel(const std::string& references, const std::string& predictions) {
  std::vector<std::string> targets = read_summaries(references);
  std::vector<std::string> outputs = read_summaries(predictions);
  if (targets.size() != outputs.size())
    throw CommandError("line counts differ: " + references + " has " + std::to_string(targets.size()) +
                       " summaries but " + predictions + " has " + std::to_string(outputs.size()));
  std::vector<RougeExample> examples(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    examples[i].line = i + 1;
    examples[i].target = std::move(targets[i]);
    examples[i].prediction = std::move(outputs[i]);
    examples[i].fields = ordered_json{{"line", i + 1}};
  }
  return examples;
}

void write_rouge_per_example(const std::string& path, const std::vector<RougeExample>& examples,
                             const std::vector<RougeScores>& scores) {
  AtomicFileWriter out(path, false);
  for (std::size_t i = 0; i < examples.size(); ++i) {
    ordered_json row = examples[i].fields;
    row["rouge1"] = score_json(scores[i].rouge1);
    row["rouge2"] = score_json(scores[i].rouge2);
    row["rougeL"] = score_json(scores[i].rougeL);
    row["rougeLsum"] = score_json(scores[i].rougeLsum);
    out.stream() << row.dump(-1, ' ', false, ordered_json::error_handler_t::replace) << '\n';
  }
  out.commit();
}

}  // namespace pyramidion::cli
