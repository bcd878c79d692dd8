// The Trainer's validations and checkpoints (training/trainer.h): the best metric and patience after a validation,
// the checkpoints CheckpointPolicy chooses and writes, resuming, starting from another run's weights, and what a run
// does when it ends. The loop that calls them is trainer.cpp.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>

#include "pyramidion/training/trainer.h"

namespace pyramidion {

ValidationResult Trainer::validate() {
  if (!valid_ || valid_->size() == 0) throw std::logic_error("validate(): no validation set");
  const ValidationResult result = validator_->validate(*valid_, state_.update);
  after_validation(result);
  return result;
}

void Trainer::after_validation(const ValidationResult& result) {
  last_validation_metric_ = result.metric(config_.best_checkpoint_metric);
  last_validation_improved_ =
      state_.record_validation(result.update, last_validation_metric_, config_.metric_maximized());
  log_->validation(result, state_, last_validation_improved_);
  for (const auto& callback : callbacks_) callback(result);
}

void Trainer::save_checkpoint(const std::string& path) {
  state_.loss_scale = update_step_->loss_scaler().scale();
  state_.loss_scale_clean_updates = update_step_->loss_scaler().clean_updates();
  nlohmann::json extra;
  extra["training_config"] = [&] {
    YAML::Emitter out;
    out << config_.to_yaml();
    return std::string(out.c_str());
  }();
  pyramidion::save_checkpoint(path, model_, tokenizer_bytes_, state_, &update_step_->optimizer(), extra);
}

bool Trainer::parameters_finite() const {
  torch::NoGradGuard no_grad;
  for (const auto& p : model_->parameters())
    if (!torch::isfinite(p).all().item<bool>()) return false;
  return true;
}

void Trainer::write_checkpoints(const CheckpointWrites& writes, const ValidationResult* validation) {
  if (!diverged_.empty()) return;
  if (writes.any() && checkpoints_->writes() && !parameters_finite()) {
    diverged_ = fmt::format("the weights after update {} are not finite", state_.update);
    spdlog::error("{}: no checkpoint written, {} keeps the last good one", diverged_, checkpoints_->last_path());
    return;
  }
  CheckpointFiles files;
  files.resumable = [this](const std::string& path) { save_checkpoint(path); };
  files.inference = [this](const std::string& path, const nlohmann::json& metadata) {
    pyramidion::save_checkpoint(path, model_, tokenizer_bytes_, state_, nullptr, metadata);
  };
  checkpoints_->write(writes, state_, validation, files);
}

void Trainer::load_checkpoint(const std::string& path) {
  const auto loaded = pyramidion::load_checkpoint(path, model_, &update_step_->optimizer());
  check_checkpoint_tokenizer(path, loaded.tokenizer_bytes, tokenizer_bytes_);
  state_ = loaded.state;
  update_step_->loss_scaler().restore(state_.loss_scale, state_.loss_scale_clean_updates);
  plan_->restore(path);
  log_->resume_at(state_.update);
  checkpoints_->last_holds(state_.update);
  if (const auto superseded = checkpoints_->supersede_newer_than(state_.update); !superseded.empty())
    spdlog::warn(
        "{}: holds update {}, but {} periodic checkpoint(s) are newer ({} ...), from the continuation that was "
        "cut off: renamed to *.pt.superseded (this run writes its own)",
        path, state_.update, superseded.size(), superseded.front());
  model_->train();
  spdlog::info("resumed from {}: update {}, epoch {} (batch {} of the epoch), best {} {}", path, state_.update,
               state_.epoch, state_.batch_in_epoch, name_of(config_.best_checkpoint_metric),
               state_.has_best ? fmt::format("{:.4f}", state_.best_metric) : std::string("none yet"));
}

void Trainer::init_from(const std::string& path, InitFromOptions options) {
  const InitFromResult loaded = load_init_from(path, model_, update_step_->optimizer(), tokenizer_bytes_, options);
  TrainingState fresh;  // data position, best metric and counters start afresh
  fresh.update = loaded.update;
  fresh.train_examples = static_cast<int64_t>(plan_->train_dataset()->size());
  fresh.world_size = options_.world_size;
  fresh.loss_scale = update_step_->loss_scaler().scale();
  torch::manual_seed(static_cast<uint64_t>(config_.seed));  // the same dropout stream as a run from scratch
  state_ = fresh;
  plan_->restart();
  log_->resume_at(-1);
  model_->to(device_);
  model_->train();
  spdlog::info("initialized from {}: its weights{}, {}, counting updates from {}", path,
               loaded.same_config ? "" : " (model config differs in keys that do not change shapes)",
               loaded.optimizer_state ? "its optimizer state" : "fresh optimizer", state_.update);
}

bool Trainer::validation_finite(const ValidationResult& result) {
  if (std::isfinite(result.loss)) return true;
  diverged_ = fmt::format("the validation loss after update {} is not finite", state_.update);
  spdlog::error("{}: no checkpoint written, {} keeps the last good one", diverged_, checkpoints_->last_path());
  return false;
}

void Trainer::finish(const std::string& stop_reason) {
  if (stop_reason == "nonfinite" || !diverged_.empty()) return;
  const bool validate_now =
      config_.validate_at_end && valid_ && stop_reason != "signal" && state_.last_validated_update != state_.update;
  if (validate_now) {
    const auto result = validate();
    if (!validation_finite(result)) return;
    write_checkpoints(checkpoints_->after_validation(last_validation_improved_, result.update, last_validation_metric_,
                                                     state_.best_checkpoints),
                      &result);
  } else {
    write_checkpoints(checkpoints_->at_end(state_.update), nullptr);
  }
}

}  // namespace pyramidion
