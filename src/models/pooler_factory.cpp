#include "pyramidion/models/pooler_factory.h"

#include <map>
#include <stdexcept>

namespace pyramidion {
namespace {

// Function-local so registrations from other files' static initializers find it constructed.
std::map<std::string, PoolerFactory>& registry() {
  static std::map<std::string, PoolerFactory> factories;
  return factories;
}

}  // namespace

bool register_pooler_type(const std::string& type, PoolerFactory factory) {
  if (!registry().emplace(type, std::move(factory)).second)
    throw std::logic_error("pooler type '" + type + "' is registered twice");
  return true;
}

std::vector<std::string> pooler_types() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

bool is_pooler_type(const std::string& type) { return registry().count(type) > 0; }

std::string unknown_pooler_type_message(const std::string& type) {
  std::string known;
  for (const auto& name : pooler_types()) known += (known.empty() ? "" : ", ") + name;
  return "unknown pooler type '" + type + "' (known: " + known + ")";
}

std::shared_ptr<PoolerImpl> make_pooler(const PoolingConfig& config, int64_t dim, int64_t width) {
  auto it = registry().find(config.type);
  if (it == registry().end())
    throw std::invalid_argument("model.pooling.type: " + unknown_pooler_type_message(config.type));
  return it->second(config, dim, width);
}

}  // namespace pyramidion
