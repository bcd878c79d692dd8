#pragma once
// Strict YAML loading for config files: exactly one document, and no key twice in a map (yaml-cpp accepts both
// and keeps one value silently, so a repeated `lr:` or a stray `---` would change a run unnoticed).
#include <yaml-cpp/yaml.h>

#include <string>

namespace pyramidion {

// Parses `text`; throws std::invalid_argument "ORIGIN: invalid YAML: ... (line N)", "ORIGIN: duplicate key 'lr'
// (line N)" or "ORIGIN: a second YAML document (line N); a config file holds one".
YAML::Node load_yaml_document(const std::string& text, const std::string& origin);
// The same for a file ("PATH: cannot read the file" when it cannot be read).
YAML::Node load_yaml_file(const std::string& path);

}  // namespace pyramidion
