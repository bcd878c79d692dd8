#include "pyramidion/training/checkpoint_policy.h"

#include <fmt/core.h>

#include <stdexcept>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <utility>
#include <vector>

#include "pyramidion/training/checkpoint.h"
#include "pyramidion/training/validator.h"
#include "pyramidion/util/atomic_file.h"

namespace pyramidion {
namespace fs = std::filesystem;

CheckpointPolicyOptions CheckpointPolicyOptions::from_config(const TrainingConfig& config, std::string save_dir,
                                                             bool is_writer) {
  CheckpointPolicyOptions options;
  options.save_dir = std::move(save_dir);
  options.save_interval_updates = config.save_interval_updates;
  options.keep_last = config.keep_last;
  options.is_writer = is_writer;
  options.keep_best = config.keep_best_checkpoints;
  options.maximize = config.metric_maximized();
  return options;
}

CheckpointPolicy::CheckpointPolicy(CheckpointPolicyOptions options) : options_(std::move(options)) {}

CheckpointWrites CheckpointPolicy::after_validation(bool improved) const {
  CheckpointWrites writes;
  if (!this->writes()) return writes;
  writes.last = true;
  writes.best = improved;
  return writes;
}

CheckpointWrites CheckpointPolicy::after_validation(bool improved, int64_t update, double value,
                                                    const std::vector<TrainingState::RankedCheckpoint>& kept) const {
  CheckpointWrites writes = after_validation(improved);
  if (!this->writes() || options_.keep_best <= 0 || !std::isfinite(value)) return writes;
  const auto better = [&](double a, double b) { return options_.maximize ? a > b : a < b; };
  std::vector<TrainingState::RankedCheckpoint> ranked = kept;
  // Insert after every entry at least as good (stable: ties keep the earlier checkpoint first).
  auto at = std::find_if(ranked.begin(), ranked.end(), [&](const auto& c) { return better(value, c.metric); });
  if (at - ranked.begin() >= options_.keep_best) return writes;  // not among the keep_best best
  ranked.insert(at, {update, value});
  while (static_cast<int64_t>(ranked.size()) > options_.keep_best) {
    writes.ranked_removed.push_back(ranked.back().update);
    ranked.pop_back();
  }
  writes.ranked_update = update;
  writes.ranked_after = std::move(ranked);
  return writes;
}

CheckpointWrites CheckpointPolicy::after_update(int64_t update) const {
  CheckpointWrites writes;
  if (this->writes() && options_.save_interval_updates > 0 && update % options_.save_interval_updates == 0)
    writes.periodic_update = update;
  return writes;
}

CheckpointWrites CheckpointPolicy::at_end(int64_t update) const {
  CheckpointWrites writes;
  writes.last = this->writes() && last_saved_update_ != update;
  return writes;
}

namespace {

// {"validation": {...}} for the metadata of best checkpoints (what `pyramidion info` shows).
nlohmann::json validation_metadata(const ValidationResult* validation) {
  nlohmann::json extra = nlohmann::json::object();
  if (validation == nullptr) return extra;
  const ValidationResult& result = *validation;
  extra["validation"] = {{"update", result.update}, {"loss", result.loss}, {"nll_loss", result.nll_loss}};
  if (result.has_rouge)
    extra["validation"].update({{"rouge1", result.rouge.rouge1.fmeasure},
                                {"rouge2", result.rouge.rouge2.fmeasure},
                                {"rougeL", result.rouge.rougeL.fmeasure},
                                {"rougeLsum", result.rouge.rougeLsum.fmeasure}});
  return extra;
}

}  // namespace

void CheckpointPolicy::write(const CheckpointWrites& writes, TrainingState& state, const ValidationResult* validation,
                             const CheckpointFiles& files) {
  if (writes.best && validation != nullptr) files.inference(best_path(), validation_metadata(validation));
  if (writes.ranked_update >= 0) {
    // Written before checkpoint_last.pt records it in the state's list; evicted files go after that write.
    files.inference(ranked_best_path(writes.ranked_update), validation_metadata(validation));
    state.best_checkpoints = writes.ranked_after;
  }
  if (writes.last) files.resumable(last_path());
  for (int64_t update : writes.ranked_removed) remove_checkpoint(ranked_best_path(update));
  if (writes.periodic_update >= 0) {
    files.resumable(periodic_path(writes.periodic_update));
    remove_old_periodic(writes.periodic_update);
  }
  wrote(writes, state.update);
}

void CheckpointPolicy::wrote(const CheckpointWrites& writes, int64_t update) {
  if (writes.last) last_saved_update_ = update;
}

std::string CheckpointPolicy::last_path() const {
  return (fs::path(options_.save_dir) / "checkpoint_last.pt").string();
}
std::string CheckpointPolicy::best_path() const {
  return (fs::path(options_.save_dir) / "checkpoint_best.pt").string();
}
std::string CheckpointPolicy::periodic_path(int64_t update) const {
  return (fs::path(options_.save_dir) / fmt::format("checkpoint_{}.pt", update)).string();
}

std::string CheckpointPolicy::ranked_best_path(int64_t update) const {
  return (fs::path(options_.save_dir) / fmt::format("checkpoint_best_u{}.pt", update)).string();
}

namespace {

// checkpoint_<update>.pt files of `dir` (update, path), oldest first.
std::vector<std::pair<int64_t, std::string>> periodic_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> periodic;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string prefix = "checkpoint_", suffix = ".pt";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    periodic.emplace_back(std::stoll(digits), entry.path().string());
  }
  std::sort(periodic.begin(), periodic.end());
  return periodic;
}

}  // namespace

void CheckpointPolicy::remove_old_periodic(int64_t update) const {
  if (!writes()) return;
  sync_directory(options_.save_dir);  // the new checkpoint is in place for good before any older one goes
  std::vector<std::pair<int64_t, std::string>> periodic;
  for (auto& entry : periodic_checkpoints(options_.save_dir))
    if (entry.first <= update) periodic.push_back(std::move(entry));
  for (size_t i = 0; i + static_cast<size_t>(options_.keep_last) < periodic.size(); ++i)
    evict_checkpoint(periodic[i].second);
}

std::vector<std::string> CheckpointPolicy::finish_interrupted_evictions() const {
  if (!writes()) return {};
  return pyramidion::finish_interrupted_evictions(options_.save_dir);
}

std::vector<std::string> CheckpointPolicy::supersede_newer_than(int64_t update) const {
  std::vector<std::string> renamed;
  if (!writes()) return renamed;
  for (const auto& [saved, path] : periodic_checkpoints(options_.save_dir)) {
    if (saved <= update) continue;
    std::error_code ec;
    fs::rename(path, path + ".superseded", ec);
    if (ec) throw std::runtime_error(path + ": cannot set it aside (" + ec.message() + ")");
    renamed.push_back(path);
  }
  if (!renamed.empty()) sync_directory(options_.save_dir);
  return renamed;
}

}  // namespace pyramidion
