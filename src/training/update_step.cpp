#include "pyramidion/training/update_step.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "pyramidion/nn/copy_attention.h"
#include "pyramidion/training/dropout_stream.h"
#include "pyramidion/training/label_smoothed_cross_entropy.h"

namespace pyramidion {

UpdateStep::UpdateStep(SummarizationModel model, const TrainingConfig& config, AmpMode amp, torch::Device device,
                       std::shared_ptr<GradientReducer> reducer)
    : model_(std::move(model)),
      collate_config_(model_->config()),
      label_smoothing_(config.label_smoothing),
      clip_norm_(config.clip_norm),
      seed_(static_cast<uint64_t>(config.seed)),
      amp_(amp),
      device_(device),
      reducer_(reducer ? std::move(reducer) : std::make_shared<LocalGradientReducer>()) {
  torch::optim::AdamWOptions adam(config.lr);
  adam.betas({config.adam_betas[0], config.adam_betas[1]});
  adam.eps(config.adam_eps);
  adam.weight_decay(config.weight_decay);
  optimizer_ = std::make_unique<torch::optim::AdamW>(model_->parameters(), adam);
  reducer_->attach(model_->parameters());
  if (config.pooling_sharpening > 0) {
    if (!model_->config().copy_attention)
      throw std::invalid_argument(
          "training.pooling_sharpening: needs model.copy_attention (it sharpens the provenance "
          "that copy attention reads)");
    const double weight = config.pooling_sharpening;
    auxiliary_loss_ = [weight](const EncoderOutput& encoded, const Batch&) {
      return provenance_entropy(encoded.copy) * weight;
    };
  }
}

void UpdateStep::set_length_limits(int64_t max_source, int64_t max_target) {
  const ModelConfig& full = model_->config();
  collate_config_.max_source_positions =
      max_source > 0 ? std::min(max_source, full.max_source_positions) : full.max_source_positions;
  collate_config_.max_target_positions =
      max_target > 0 ? std::min(max_target, full.max_target_positions) : full.max_target_positions;
}

// Gradients set to none, not to zero (LibTorch 1.13's zero_grad keeps them defined): a parameter that takes no
// part in an update (a pooler that short inputs bypass) then gets no AdamW step, in a resumed run (whose fresh
// parameters have no gradient yet) exactly as in an uninterrupted one.
void UpdateStep::clear_gradients() {
  for (auto& p : model_->parameters()) p.mutable_grad() = torch::Tensor();
}

UpdateStepResult UpdateStep::run(const data::BinaryDataset& dataset, const std::vector<ExampleBatch>& batches,
                                 int64_t update_target_tokens, double lr, int64_t update) {
  UpdateStepResult result;
  result.lr = lr;
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  clear_gradients();
  model_->train();

  // Gradients are normalized by the update's target tokens (all accumulated batches of all processes), so
  // update_freq k with batches of n examples matches one batch of k * n.
  std::vector<double> token_count{static_cast<double>(update_target_tokens)};
  reducer_->sum_scalars(token_count);
  const double update_tokens = token_count[0];
  const double scale = amp_ == AmpMode::fp16 ? loss_scaler_.scale() : 1.0;
  const int64_t pad_id = model_->config().pad_id;

  bool finite = true;
  for (size_t b = 0; b < batches.size(); ++b) {
    const auto& indices = batches[b];
    const Batch batch = collate_batch(dataset, indices, collate_config_).to(device_);
    // The same masks for this batch whichever rank runs it, and in a resumed run as in the uninterrupted one.
    seed_micro_batch(seed_, update,
                     global_micro_batch(static_cast<int64_t>(b), reducer_->rank(), reducer_->world_size()));
    LabelSmoothedLoss loss;
    torch::Tensor objective;  // () summed over tokens
    {
      AutocastScope autocast(amp_);
      const EncoderOutput encoded = model_->encode(batch.source, batch.source_mask);
      const torch::Tensor logits = model_->decode(batch.target_in, encoded);  // (batch, tgt_len, vocab)
      loss = label_smoothed_cross_entropy(logits, batch.target_out, label_smoothing_, pad_id);
      objective = loss.loss;
      if (auxiliary_loss_) {
        const torch::Tensor extra = auxiliary_loss_(encoded, batch);  // () per-token scale
        objective = objective + extra.to(objective.scalar_type()) * static_cast<double>(batch.target_tokens);
      }
    }
    const double loss_value = loss.loss.item<double>();
    result.loss_sum += loss_value;
    result.nll_sum += loss.nll_loss.item<double>();
    result.target_tokens += batch.target_tokens;
    result.source_tokens += batch.source_tokens;
    const double objective_value = auxiliary_loss_ ? objective.item<double>() : loss_value;
    if (!finite || !std::isfinite(objective_value)) {  // the rest of the update's batches are consumed unused
      finite = false;
      continue;
    }
    reducer_->before_backward(b + 1 == batches.size());
    (objective * (scale / update_tokens)).backward();
  }
  // Every rank reduces, even when its own loss was not finite: the collectives of all ranks must match.
  const auto parameters = model_->parameters();
  reducer_->reduce_gradients(parameters);

  // One agreement for all processes: any non-finite loss skips the update everywhere; the statistics are global.
  std::vector<double> agreed{finite ? 0.0 : 1.0, result.loss_sum, result.nll_sum,
                             static_cast<double>(result.target_tokens), static_cast<double>(result.source_tokens)};
  reducer_->sum_scalars(agreed);
  finite = agreed[0] == 0.0;
  result.loss_sum = agreed[1];
  result.nll_sum = agreed[2];
  result.target_tokens = static_cast<int64_t>(agreed[3]);
  result.source_tokens = static_cast<int64_t>(agreed[4]);

  if (finite) {
    if (scale != 1.0) {
      torch::NoGradGuard no_grad;
      for (const auto& p : parameters)
        if (p.grad().defined()) p.grad().mul_(1.0 / scale);
    }
    const double max_norm = clip_norm_ > 0 ? clip_norm_ : std::numeric_limits<double>::infinity();
    result.grad_norm = torch::nn::utils::clip_grad_norm_(parameters, max_norm);
    finite = std::isfinite(result.grad_norm);
  }
  if (amp_ == AmpMode::fp16) loss_scaler_.update(!finite);
  if (!finite) {
    clear_gradients();
    return result;
  }
  optimizer_->step();
  result.applied = true;
  return result;
}

}  // namespace pyramidion
