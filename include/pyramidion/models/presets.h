#pragma once
// Named configurations: configs/<name>.yaml (vanilla, blockwise, transpooler, pyramidion, deep-pyramidion, tiny-*).
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "pyramidion/models/model_config.h"

namespace pyramidion {

// The configs directory, first that exists: $PYRAMIDION_CONFIGS, <executable>/../share/pyramidion/configs,
// the source tree's configs/ (compiled in). Throws std::runtime_error listing the places tried.
std::string configs_dir();

std::vector<std::string> preset_names();               // sorted names of configs_dir()/*.yaml
std::string preset_path(const std::string& name);      // throws std::invalid_argument naming the known presets
YAML::Node load_preset_yaml(const std::string& name);  // the whole document (model: and any other sections)
ModelConfig load_preset(const std::string& name);

// describe, bench, train and demo resolve -c FILE / --preset NAME / --set k=v through one function with one rule set:
// resolve_run_config (pyramidion/training/training_config.h).

}  // namespace pyramidion
