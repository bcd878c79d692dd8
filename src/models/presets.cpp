#include "pyramidion/models/presets.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "pyramidion/util/yaml_override.h"

namespace pyramidion {
namespace fs = std::filesystem;

std::string configs_dir() {
  std::vector<fs::path> tried;
  if (const char* env = std::getenv("PYRAMIDION_CONFIGS")) tried.emplace_back(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) tried.push_back(exe.parent_path() / ".." / "share" / "pyramidion" / "configs");
#ifdef PYRAMIDION_SOURCE_CONFIGS_DIR
  tried.emplace_back(PYRAMIDION_SOURCE_CONFIGS_DIR);
#endif
  for (const auto& dir : tried)
    if (fs::is_directory(dir, ec)) return fs::weakly_canonical(dir, ec).string();
  std::string list;
  for (const auto& dir : tried) list += (list.empty() ? "" : ", ") + dir.string();
  throw std::runtime_error("no configs directory found (tried: " + list + "); set $PYRAMIDION_CONFIGS");
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(configs_dir()))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string preset_path(const std::string& name) {
  const auto names = preset_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown preset '" + name + "' (known: " + list + ")");
  }
  return (fs::path(configs_dir()) / (name + ".yaml")).string();
}

YAML::Node load_preset_yaml(const std::string& name) {
  const std::string path = preset_path(name);
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(path + ": invalid YAML: " + e.msg);
  }
}

ModelConfig load_preset(const std::string& name) {
  return ModelConfig::from_yaml(load_preset_yaml(name), preset_path(name));
}

}  // namespace pyramidion
