#pragma once
// `--set a.b.c=value` overrides on a YAML document (used for model configs and trainer settings alike).
#include <yaml-cpp/yaml.h>

#include <string>

namespace pyramidion {

// Sets root[a][b][c] = value, creating maps on the way (a scalar in the way is replaced by a map).
// The value is parsed as YAML: `d_model=256` gives an integer scalar, `pooling={0: 256, 1: 64}` a map,
// `pooling={}` an empty map, `name="a=b"` a string. Throws std::invalid_argument on a missing '=' or an empty key.
void apply_yaml_override(YAML::Node& root, const std::string& assignment);

}  // namespace pyramidion
