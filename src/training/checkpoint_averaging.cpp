#include "pyramidion/training/checkpoint_averaging.h"

#include <fmt/core.h>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "pyramidion/models/model_file.h"
#include "pyramidion/training/checkpoint.h"

namespace pyramidion {
namespace fs = std::filesystem;
namespace {

// Parameters and buffers by name: every tensor the model file stores.
std::vector<std::pair<std::string, torch::Tensor>> model_tensors(SummarizationModelImpl& model) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : model.named_parameters()) tensors.emplace_back(item.key(), item.value());
  for (const auto& item : model.named_buffers()) tensors.emplace_back(item.key(), item.value());
  return tensors;
}

nlohmann::json update_of(const std::string& metadata_json) {
  const auto metadata = nlohmann::json::parse(metadata_json, nullptr, false);
  if (metadata.is_object() && metadata.contains("training_state") && metadata["training_state"].contains("update"))
    return metadata["training_state"]["update"];
  return nullptr;
}

}  // namespace

AverageCheckpointsResult average_checkpoints(const std::vector<std::string>& inputs, const std::string& output) {
  if (inputs.empty()) throw std::invalid_argument("average-checkpoints: no input files");
  for (const auto& input : inputs)
    if (fs::exists(output) && fs::exists(input) && fs::equivalent(output, input))
      throw std::invalid_argument(output + ": the output is also an input");
  torch::NoGradGuard no_grad;
  LoadedModel first = load_model_file(inputs.front());
  const std::string config_yaml = first.config.to_yaml_string();
  auto tensors = model_tensors(*first.model);
  std::vector<torch::Tensor> sums;
  for (const auto& [name, tensor] : tensors)
    sums.push_back(tensor.is_floating_point() ? tensor.to(torch::kFloat64) : tensor.clone());

  nlohmann::json updates = nlohmann::json::array();
  updates.push_back(update_of(read_model_file_contents(inputs.front()).metadata_json));
  SummarizationModel scratch(first.config);
  auto scratch_tensors = model_tensors(*scratch);
  for (size_t f = 1; f < inputs.size(); ++f) {
    const std::string& path = inputs[f];
    const ModelFileContents contents = read_model_file_contents(path);
    if (ModelConfig::from_yaml_string(contents.config_yaml, path).to_yaml_string() != config_yaml)
      throw std::invalid_argument(path + ": its model config differs from " + inputs.front() + "'s");
    if (contents.tokenizer_bytes != first.tokenizer_bytes)
      throw std::invalid_argument(path + ": its tokenizer differs from " + inputs.front() + "'s");
    load_model_weights(*scratch, contents.weights, path);
    for (size_t i = 0; i < scratch_tensors.size(); ++i) {
      const auto& tensor = scratch_tensors[i].second;
      if (tensor.is_floating_point()) {
        sums[i].add_(tensor.to(torch::kFloat64));
      } else if (!torch::equal(tensor, sums[i])) {
        throw std::invalid_argument(path + ": " + scratch_tensors[i].first +
                                    " (not a floating-point tensor) differs from " + inputs.front() +
                                    "'s, so it cannot be averaged");
      }
    }
    updates.push_back(update_of(contents.metadata_json));
  }
  AverageCheckpointsResult result;
  result.inputs = inputs;
  const double count = static_cast<double>(inputs.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto& tensor = tensors[i].second;
    if (tensor.is_floating_point()) tensor.copy_(sums[i].div_(count).to(tensor.scalar_type()));
    ++result.tensors;
    result.elements += tensor.numel();
  }
  nlohmann::json metadata = {{"kind", "average"}, {"averaged", inputs}, {"updates", updates}};
  save_model_file(output, first.model, first.tokenizer_bytes, metadata);
  return result;
}

std::vector<std::string> last_periodic_checkpoints(const std::string& run_dir, int64_t count) {
  if (count < 1) throw std::invalid_argument("--last: must be >= 1");
  if (!fs::is_directory(run_dir)) throw std::invalid_argument(run_dir + ": not a directory");
  std::vector<std::pair<int64_t, std::string>> periodic;
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    const std::string prefix = "checkpoint_", suffix = ".pt";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    periodic.emplace_back(std::stoll(digits), entry.path().string());
  }
  if (static_cast<int64_t>(periodic.size()) < count)
    throw std::invalid_argument(
        fmt::format("{}: {} periodic checkpoints (checkpoint_<update>.pt), {} asked for "
                    "(training.save_interval_updates and keep_last make them)",
                    run_dir, periodic.size(), count));
  std::sort(periodic.begin(), periodic.end());
  std::vector<std::string> paths;
  for (size_t i = periodic.size() - static_cast<size_t>(count); i < periodic.size(); ++i)
    paths.push_back(periodic[i].second);
  return paths;
}

namespace {

// The update of checkpoint_<update>.pt, and that file's training.save_interval_updates (0 when unknown).
std::pair<int64_t, int64_t> periodic_update_and_interval(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  const int64_t update = std::stoll(name.substr(std::string("checkpoint_").size()));
  int64_t interval = 0;
  try {
    const auto metadata = nlohmann::json::parse(read_model_file_contents(path).metadata_json, nullptr, false);
    if (metadata.is_object() && metadata.contains("training_config") && metadata["training_config"].is_string()) {
      const YAML::Node config = YAML::Load(metadata["training_config"].get<std::string>());
      if (config["training"] && config["training"]["save_interval_updates"])
        interval = config["training"]["save_interval_updates"].as<int64_t>();
    }
  } catch (const std::exception&) {
    interval = 0;  // averaging reads the file again and names any damage
  }
  return {update, interval};
}

}  // namespace

std::string periodic_gap_warning(const std::string& run_dir, const std::vector<std::string>& picked) {
  if (picked.empty()) return "";
  std::vector<int64_t> updates;
  for (const auto& path : picked) updates.push_back(periodic_update_and_interval(path).first);
  const int64_t interval = periodic_update_and_interval(picked.back()).second;
  if (interval <= 0) return "";
  for (size_t i = 1; i < updates.size(); ++i)
    if (updates[i] - updates[i - 1] != interval)
      return fmt::format(
          "{} and {}: not consecutive saves (training.save_interval_updates {}: checkpoint_{}.pt is "
          "missing); the average mixes updates {} apart",
          fs::path(picked[i - 1]).filename().string(), fs::path(picked[i]).filename().string(), interval,
          updates[i - 1] + interval, updates[i] - updates[i - 1]);
  const fs::path last = fs::path(run_dir) / "checkpoint_last.pt";
  if (fs::exists(last)) {
    try {
      const auto metadata =
          nlohmann::json::parse(read_model_file_contents(last.string()).metadata_json, nullptr, false);
      const int64_t last_update = TrainingState::from_json(metadata.at("training_state")).update;
      if (last_update >= updates.back() + interval)
        return fmt::format(
            "{} holds update {}, but the newest periodic checkpoint is {} (checkpoint_{}.pt is "
            "missing): these are not the run's last {} saves",
            last.string(), last_update, fs::path(picked.back()).filename().string(), updates.back() + interval,
            picked.size());
    } catch (const std::exception&) {
    }
  }
  return "";
}

std::vector<std::string> best_ranked_checkpoints(const std::string& run_dir, int64_t count) {
  if (count < 1) throw std::invalid_argument("--best: must be >= 1");
  const fs::path last = fs::path(run_dir) / "checkpoint_last.pt";
  if (!fs::exists(last)) throw std::invalid_argument(last.string() + ": missing (it ranks the kept best checkpoints)");
  const auto metadata = nlohmann::json::parse(read_model_file_contents(last.string()).metadata_json, nullptr, false);
  if (!metadata.is_object() || !metadata.contains("training_state"))
    throw std::invalid_argument(last.string() + ": not a training checkpoint");
  const TrainingState state = TrainingState::from_json(metadata["training_state"]);
  std::vector<std::string> paths;
  for (const auto& ranked : state.best_checkpoints) {
    if (static_cast<int64_t>(paths.size()) == count) break;
    const fs::path path = fs::path(run_dir) / fmt::format("checkpoint_best_u{}.pt", ranked.update);
    if (!fs::exists(path)) throw std::invalid_argument(path.string() + ": ranked in " + last.string() + " but missing");
    paths.push_back(path.string());
  }
  if (static_cast<int64_t>(paths.size()) < count)
    throw std::invalid_argument(
        fmt::format("{}: ranks {} best checkpoints, {} asked for (training.keep_best_checkpoints "
                    "keeps them)",
                    last.string(), state.best_checkpoints.size(), count));
  return paths;
}

}  // namespace pyramidion
