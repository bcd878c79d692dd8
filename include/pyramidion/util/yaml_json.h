#pragma once
// A config's YAML as JSON with typed values: scalars that read as an integer, a number or a boolean become one
// (`info --json`, `/v1/model`), everything else stays text. Json: nlohmann::json or nlohmann::ordered_json.
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string>

namespace pyramidion {

template <typename Json>
Json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = yaml_to_json<Json>(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const auto& item : node) out.push_back(yaml_to_json<Json>(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (text == "true" || text == "false") return text == "true";
      if (text.empty()) return text;
      char* end = nullptr;
      const long long integer = std::strtoll(text.c_str(), &end, 10);
      if (*end == '\0') return integer;
      const double real = std::strtod(text.c_str(), &end);
      if (*end == '\0') return real;
      return text;
    }
    default:
      return nullptr;
  }
}

}  // namespace pyramidion
