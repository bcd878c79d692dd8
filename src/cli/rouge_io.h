#pragma once
// Input and output files of `pyramidion rouge`: JSONL pairs, parallel reference/prediction files, and the
// per-example JSONL. Every input problem becomes a CommandError naming the file, line and field.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "pyramidion/eval/rouge.h"

namespace pyramidion::cli {

struct RougeExample {
  std::size_t line = 0;           // 1-based line in the input file(s)
  std::string target;             // reference summary, sentences separated by '\n'
  std::string prediction;         // system summary, sentences separated by '\n'
  nlohmann::ordered_json fields;  // copied to the per-example output: the pair's other fields, or {"line": n}
};

// --filter FIELD=VALUE: keeps pairs whose string field FIELD equals VALUE, or starts with it when VALUE
// ends in '*'.
struct RougeFieldFilter {
  std::string field;
  std::string value;
  bool prefix = false;

  static RougeFieldFilter parse(const std::string& spec);  // throws CommandError on a malformed spec
  bool matches(const nlohmann::ordered_json& fields) const;
};

// One JSON object per line with string fields "target" and "prediction"; blank lines are skipped.
std::vector<RougeExample> read_rouge_pairs(const std::string& path);

// Line i of `references` pairs with line i of `predictions`. A file named *.jsonl holds one JSON string or
// list of sentence strings (joined with '\n') per line; any other file holds one plain-text summary per line.
std::vector<RougeExample> read_rouge_parallel(const std::string& references, const std::string& predictions);

// Writes, per example and in order, its fields plus "rouge1".."rougeLsum" as {"p","r","f"}; through a
// temporary file in the same directory and a rename, so readers never see a partial file.
void write_rouge_per_example(const std::string& path, const std::vector<RougeExample>& examples,
                             const std::vector<RougeScores>& scores);

}  // namespace pyramidion::cli
