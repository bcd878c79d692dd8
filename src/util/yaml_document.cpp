#include "pyramidion/util/yaml_document.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace pyramidion {
namespace {

std::string line_of(const YAML::Node& node) { return "line " + std::to_string(node.Mark().line + 1); }

void check_unique_keys(const YAML::Node& node, const std::string& origin, int depth) {
  if (depth > 64) throw std::invalid_argument(origin + ": YAML nested deeper than 64 levels");
  if (node.IsMap()) {
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (kv.first.IsScalar() && !seen.insert(kv.first.Scalar()).second)
        throw std::invalid_argument(origin + ": duplicate key '" + kv.first.Scalar() + "' (" + line_of(kv.first) + ")");
      check_unique_keys(kv.second, origin, depth + 1);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) check_unique_keys(item, origin, depth + 1);
  }
}

}  // namespace

YAML::Node load_yaml_document(const std::string& text, const std::string& origin) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(origin + ": invalid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) +
                                ")");
  }
  if (documents.size() > 1)
    throw std::invalid_argument(origin + ": a second YAML document (" + line_of(documents[1]) +
                                "); a config file holds one");
  if (documents.empty()) return YAML::Node();
  check_unique_keys(documents[0], origin, 0);
  return documents[0];
}

YAML::Node load_yaml_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::invalid_argument(path + ": is a directory, not a YAML file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(path + ": cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::invalid_argument(path + ": cannot read the file");
  return load_yaml_document(text.str(), path);
}

}  // namespace pyramidion
