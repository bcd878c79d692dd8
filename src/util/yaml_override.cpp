#include "pyramidion/util/yaml_override.h"

#include <stdexcept>
#include <vector>

namespace pyramidion {
namespace {

// Recursion instead of rebinding a Node variable: assigning to a yaml-cpp Node overwrites what it refers to.
void set_path(YAML::Node node, const std::vector<std::string>& keys, size_t i, const YAML::Node& value) {
  if (i + 1 == keys.size()) {
    node[keys[i]] = value;
    return;
  }
  if (!node[keys[i]].IsMap()) node[keys[i]] = YAML::Node(YAML::NodeType::Map);
  set_path(node[keys[i]], keys, i + 1, value);
}

}  // namespace

void apply_yaml_override(YAML::Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos)
    throw std::invalid_argument("override '" + assignment + "' is not of the form key=value");
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  std::vector<std::string> keys;
  size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    keys.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (keys.back().empty()) throw std::invalid_argument("override '" + assignment + "' has an empty key");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument("override '" + assignment + "': value is not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) root = YAML::Node(YAML::NodeType::Map);
  set_path(root, keys, 0, value);
}

}  // namespace pyramidion
