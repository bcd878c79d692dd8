#pragma once
// Edits of a config YAML document before `--set` overrides apply (resolve_run_config).
#include <yaml-cpp/yaml.h>

namespace pyramidion {

// Rewrites a legacy `model.pooling: {layer: width}` (every key an integer, or empty/null) into the nested
// `model.pooling: {schedule: {layer: width}}`, so "pooling.schedule.1=64" adds to the file's schedule. Flat
// pooling_* keys stay where they are (from_yaml reads both). No-op for a document without model.pooling.
void normalize_pooling_section(YAML::Node& document);

}  // namespace pyramidion
