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

std::vector<std::string> preset_names();        // sorted names of configs_dir()/*.yaml
std::string preset_path(const std::string& name);  // throws std::invalid_argument naming the known presets
YAML::Node load_preset_yaml(const std::string& name);  // the whole document (model: and any other sections)
ModelConfig load_preset(const std::string& name);

// A config from either a file or a preset, then `--set` overrides in order (keys relative to the document root,
// e.g. "model.d_model=256"; a key without a section is taken as model.<key>).
ModelConfig resolve_model_config(const std::string& config_path, const std::string& preset,
                                 const std::vector<std::string>& overrides);

}  // namespace pyramidion
