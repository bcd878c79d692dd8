#include "pyramidion/training/curriculum.h"

#include <algorithm>
#include <stdexcept>

#include "pyramidion/util/yaml_fields.h"

namespace pyramidion {
namespace {

using yaml_fields::describe_node;
using yaml_fields::fail;

const std::vector<std::pair<std::string, CurriculumUnit>> kUnits = {{"updates", CurriculumUnit::updates},
                                                                    {"epochs", CurriculumUnit::epochs}};
const std::vector<std::pair<std::string, OverlongExamples>> kOverlong = {{"truncate", OverlongExamples::truncate},
                                                                         {"skip", OverlongExamples::skip}};

using StageField = yaml_fields::Field<CurriculumStage>;
using ConfigField = yaml_fields::Field<CurriculumConfig>;

const std::vector<std::pair<std::string, StageField>>& stage_fields() {
  using S = CurriculumStage;
  static const std::vector<std::pair<std::string, StageField>> table = {
      {"until", yaml_fields::scalar<S, int64_t>(yaml_fields::member(&S::until), "an integer")},
      {"max_source_length", yaml_fields::scalar<S, int64_t>(yaml_fields::member(&S::max_source_length), "an integer")},
      {"max_target_length", yaml_fields::scalar<S, int64_t>(yaml_fields::member(&S::max_target_length), "an integer")},
      {"max_tokens", yaml_fields::scalar<S, int64_t>(yaml_fields::member(&S::max_tokens), "an integer")},
  };
  return table;
}

template <typename Config, typename Table>
void read_map(Config& config, const Table& table, const YAML::Node& node, const std::string& origin,
              const std::string& field) {
  if (!node.IsMap()) fail(origin, field, "expected a map, got " + describe_node(node));
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    auto it = std::find_if(table.begin(), table.end(), [&](const auto& f) { return f.first == key; });
    if (it == table.end()) fail(origin, field + "." + key, "unknown key (see docs/training.md, Length curriculum)");
    it->second.read(config, item.second, origin, field + "." + key);
  }
}

ConfigField stages_field() {
  return {[](CurriculumConfig& c, const YAML::Node& n, const std::string& o, const std::string& f) {
            if (!n.IsSequence()) fail(o, f, "expected a list of stages, got " + describe_node(n));
            c.stages.clear();
            for (size_t i = 0; i < n.size(); ++i) {
              CurriculumStage stage;
              read_map(stage, stage_fields(), n[i], o, f + "." + std::to_string(i));
              c.stages.push_back(stage);
            }
          },
          [](const CurriculumConfig& c) {
            YAML::Node list(YAML::NodeType::Sequence);
            for (const auto& stage : c.stages) {
              YAML::Node map(YAML::NodeType::Map);
              for (const auto& [name, f] : stage_fields()) map[name] = f.write(stage);
              map.SetStyle(YAML::EmitterStyle::Flow);
              list.push_back(map);
            }
            return list;
          }};
}

const std::vector<std::pair<std::string, ConfigField>>& config_fields() {
  using C = CurriculumConfig;
  static const std::vector<std::pair<std::string, ConfigField>> table = {
      {"unit", yaml_fields::choice<C, CurriculumUnit>(yaml_fields::member(&C::unit), kUnits)},
      {"overlong", yaml_fields::choice<C, OverlongExamples>(yaml_fields::member(&C::overlong), kOverlong)},
      {"stages", stages_field()},
  };
  return table;
}

}  // namespace

std::string name_of(CurriculumUnit unit) {
  if (unit == CurriculumUnit::manual) return "manual";
  for (const auto& [name, u] : kUnits)
    if (u == unit) return name;
  return "?";
}

std::string name_of(OverlongExamples overlong) {
  for (const auto& [name, o] : kOverlong)
    if (o == overlong) return name;
  return "?";
}

CurriculumConfig CurriculumConfig::from_yaml(const YAML::Node& node, const std::string& origin,
                                             const std::string& field) {
  CurriculumConfig config;
  if (!node || node.IsNull()) return config;
  read_map(config, config_fields(), node, origin, field);
  return config;
}

YAML::Node CurriculumConfig::to_yaml() const {
  YAML::Node map(YAML::NodeType::Map);
  for (const auto& [name, f] : config_fields()) map[name] = f.write(*this);
  if (unit == CurriculumUnit::manual) map["unit"] = "manual";  // a library-only unit; written for the record
  return map;
}

void CurriculumConfig::validate() const {
  const std::string base = "training.curriculum.stages";
  auto require = [](bool ok, const std::string& field, const std::string& message) {
    if (!ok) throw std::invalid_argument(field + ": " + message);
  };
  for (size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    const std::string at = base + "." + std::to_string(i);
    const bool last = i + 1 == stages.size();
    require(s.max_source_length >= 0, at + ".max_source_length", "must be >= 0 (0 = the model's max_source_positions)");
    require(s.max_target_length >= 0, at + ".max_target_length", "must be >= 0 (0 = the model's max_target_positions)");
    require(s.max_tokens >= 0, at + ".max_tokens", "must be >= 0 (0 = training.max_tokens)");
    if (unit == CurriculumUnit::manual) {
      require(s.until == 0, at + ".until", "must be 0 with unit manual (the program chooses the stage)");
      continue;
    }
    if (last) {
      require(s.until == 0, at + ".until",
              "the last stage lasts until training ends (max_updates / max_epochs); leave `until` out");
      continue;
    }
    require(s.until >= 1, at + ".until",
            std::string("must be >= 1 (the stage's last ") + (unit == CurriculumUnit::updates ? "update" : "epoch") +
                "; only the last stage leaves it out)");
    if (i > 0)
      require(
          s.until > stages[i - 1].until, at + ".until",
          "must be greater than stage " + std::to_string(i - 1) + "'s (" + std::to_string(stages[i - 1].until) + ")");
  }
}

Curriculum::Curriculum(CurriculumConfig config) : config_(std::move(config)) { config_.validate(); }

const CurriculumStage& Curriculum::stage(int64_t index) const {
  if (!enabled()) return unlimited_;
  if (index < 0 || index >= stages())
    throw std::out_of_range("curriculum stage " + std::to_string(index) + " of " + std::to_string(stages()));
  return config_.stages[static_cast<size_t>(index)];
}

int64_t Curriculum::stage_at(int64_t completed_updates, int64_t epoch, int64_t current) const {
  if (!enabled()) return 0;
  if (config_.unit == CurriculumUnit::manual) return std::clamp<int64_t>(current, 0, stages() - 1);
  for (int64_t i = 0; i + 1 < stages(); ++i) {
    const int64_t until = config_.stages[static_cast<size_t>(i)].until;
    if (config_.unit == CurriculumUnit::updates ? completed_updates < until : epoch <= until) return i;
  }
  return stages() - 1;
}

StageExamples Curriculum::examples(int64_t index, const std::vector<int64_t>& source_lengths,
                                   const std::vector<int64_t>& target_lengths) const {
  const CurriculumStage& s = stage(index);
  StageExamples out;
  out.source_lengths = source_lengths;
  out.target_lengths = target_lengths;
  for (size_t i = 0; i < source_lengths.size(); ++i) {
    const bool too_long = (s.max_source_length > 0 && source_lengths[i] > s.max_source_length) ||
                          (s.max_target_length > 0 && target_lengths[i] > s.max_target_length);
    if (too_long && config_.overlong == OverlongExamples::skip) continue;
    if (s.max_source_length > 0) out.source_lengths[i] = std::min(out.source_lengths[i], s.max_source_length);
    if (s.max_target_length > 0) out.target_lengths[i] = std::min(out.target_lengths[i], s.max_target_length);
    out.kept.push_back(static_cast<int64_t>(i));
  }
  return out;
}

std::string Curriculum::describe(int64_t index, int64_t default_max_tokens) const {
  const CurriculumStage& s = stage(index);
  auto limit = [](int64_t v) { return v > 0 ? std::to_string(v) : std::string("model max"); };
  std::string text = "stage " + std::to_string(index + 1) + " of " + std::to_string(stages()) +
                     " (source <= " + limit(s.max_source_length) + ", target <= " + limit(s.max_target_length) +
                     ", max_tokens " + std::to_string(s.max_tokens > 0 ? s.max_tokens : default_max_tokens);
  if (s.until > 0) text += config_.unit == CurriculumUnit::updates ? ", until update " : ", through epoch ";
  if (s.until > 0) text += std::to_string(s.until);
  return text + ")";
}

}  // namespace pyramidion
