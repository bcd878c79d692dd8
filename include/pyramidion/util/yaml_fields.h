#pragma once
// One way to declare a YAML-backed options struct: a table of fields, each reading its node (with an error
// naming the origin file and the field) and writing the current value back. Used by the `model:` and
// `training:` sections, so both report bad input the same way.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pyramidion::yaml_fields {

// A number as the shortest text that reads back as the same double (0.1, not yaml-cpp's 0.10000000000000001).
inline YAML::Node number_node(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return YAML::Node(std::string(text, end));
}

// A value's node: doubles through number_node, everything else as yaml-cpp writes it.
template <typename T>
YAML::Node value_node(const T& value) {
  if constexpr (std::is_floating_point_v<T>) {
    return number_node(static_cast<double>(value));
  } else {
    return YAML::Node(value);
  }
}

[[noreturn]] inline void fail(const std::string& origin, const std::string& field, const std::string& message) {
  throw std::invalid_argument(origin + ": " + (field.empty() ? "" : field + ": ") + message);
}

inline std::string describe_node(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  return "nothing";
}

template <typename T>
T read_scalar(const YAML::Node& node, const std::string& origin, const std::string& field, const char* what) {
  if (!node.IsScalar()) fail(origin, field, std::string("expected ") + what + ", got " + describe_node(node));
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail(origin, field, std::string("expected ") + what + ", got " + describe_node(node));
  }
}

template <typename Config>
struct Field {
  std::function<void(Config&, const YAML::Node&, const std::string& origin, const std::string& field)> read;
  std::function<YAML::Node(const Config&)> write;
};

// A projection Config& -> T& for a plain member.
template <typename Config, typename T>
auto member(T Config::*m) {
  return [m](Config& c) -> T& { return c.*m; };
}

// `project` maps Config& to the value's reference, so nested members (valid_search.beam) work too.
template <typename Config, typename T, typename Project>
Field<Config> scalar(Project project, const char* what) {
  return {[project, what](Config& c, const YAML::Node& n, const std::string& o, const std::string& f) {
            project(c) = read_scalar<T>(n, o, f, what);
          },
          [project](const Config& c) { return value_node(project(const_cast<Config&>(c))); }};
}

// An enum spelled by name.
template <typename Config, typename E, typename Project>
Field<Config> choice(Project project, std::vector<std::pair<std::string, E>> names) {
  return {[project, names](Config& c, const YAML::Node& n, const std::string& o, const std::string& f) {
            const auto text = read_scalar<std::string>(n, o, f, "a name");
            std::string allowed;
            for (const auto& [name, value] : names) {
              if (name == text) {
                project(c) = value;
                return;
              }
              allowed += (allowed.empty() ? "" : ", ") + name;
            }
            fail(o, f, "'" + text + "' is not one of " + allowed);
          },
          [project, names](const Config& c) {
            for (const auto& [name, value] : names)
              if (value == project(const_cast<Config&>(c))) return YAML::Node(name);
            return YAML::Node();
          }};
}

}  // namespace pyramidion::yaml_fields
