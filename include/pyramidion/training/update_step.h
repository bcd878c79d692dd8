#pragma once
// One optimizer update: for each accumulated batch forward (encode, then decode), label-smoothed loss plus the
// optional auxiliary loss, backward; then the gradient-reduction hook, fp16 unscaling, clipping and the AdamW
// step. An update whose loss or gradient norm is not finite is skipped (no step; fp16 halves its loss scale).
#include <torch/optim/adamw.h>

#include <functional>
#include <memory>
#include <vector>

#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/models/summarization_model.h"
#include "pyramidion/nn/encoder_output.h"
#include "pyramidion/training/batch.h"
#include "pyramidion/training/gradient_reducer.h"
#include "pyramidion/training/mixed_precision.h"
#include "pyramidion/training/token_budget_batcher.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion {

struct UpdateStepResult {
  bool applied = false;              // false: skipped for a NaN/Inf loss or gradient norm
  double loss_sum = 0, nll_sum = 0;  // summed over target tokens (of all processes)
  int64_t target_tokens = 0, source_tokens = 0;
  double grad_norm = 0;  // global norm before clipping
  double lr = 0;
};

class UpdateStep {
 public:
  // Per-token-scale extra loss: EncoderOutput (with the scorer outputs in .pooling) and the batch -> () tensor.
  using AuxiliaryLoss = std::function<torch::Tensor(const EncoderOutput&, const Batch&)>;

  // `model` is already on `device`. reducer == nullptr: LocalGradientReducer.
  UpdateStep(SummarizationModel model, const TrainingConfig& config, AmpMode amp, torch::Device device,
             std::shared_ptr<GradientReducer> reducer = nullptr);

  // One update over `batches` (examples of `dataset`) at learning rate `lr`. `update_target_tokens` is this
  // process's target tokens over all of `batches` (the gradient is divided by the sum over processes). `update`
  // (1-based, the update being computed) seeds each batch's dropout stream (training/dropout_stream.h).
  UpdateStepResult run(const data::BinaryDataset& dataset, const std::vector<ExampleBatch>& batches,
                       int64_t update_target_tokens, double lr, int64_t update);

  // Batches are cut to these lengths (a curriculum stage's; <= 0 = the model's max positions).
  void set_length_limits(int64_t max_source, int64_t max_target);

  void set_auxiliary_loss(AuxiliaryLoss loss) { auxiliary_loss_ = std::move(loss); }
  bool has_auxiliary_loss() const { return static_cast<bool>(auxiliary_loss_); }

  torch::optim::AdamW& optimizer() { return *optimizer_; }
  DynamicLossScaler& loss_scaler() { return loss_scaler_; }
  const DynamicLossScaler& loss_scaler() const { return loss_scaler_; }
  GradientReducer& reducer() { return *reducer_; }

 private:
  void clear_gradients();
  SummarizationModel model_;
  ModelConfig collate_config_;  // the model's config with the length limits of collation
  double label_smoothing_;
  double clip_norm_;
  uint64_t seed_;  // training.seed: the dropout streams
  AmpMode amp_;
  torch::Device device_;
  std::shared_ptr<GradientReducer> reducer_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  DynamicLossScaler loss_scaler_;
  AuxiliaryLoss auxiliary_loss_;
};

}  // namespace pyramidion
