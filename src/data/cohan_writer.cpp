#include "pyramidion/data/cohan_writer.h"

#include <nlohmann/json.hpp>

#include "pyramidion/util/atomic_file.h"

namespace pyramidion::data {

void write_cohan_jsonl(const std::string& path, const std::vector<SummarizationExample>& examples) {
  AtomicFileWriter writer(path, false);
  for (const auto& example : examples) {
    nlohmann::ordered_json record;
    record["article_id"] = example.id;
    record["article_text"] = example.source_sentences;
    std::vector<std::string> abstract;
    for (const auto& s : example.target_sentences) abstract.push_back("<S> " + s + " </S>");
    record["abstract_text"] = abstract;
    writer.stream() << record.dump() << "\n";
  }
  writer.commit();
}

}  // namespace pyramidion::data
