#pragma once
// Eval mode for a scope (validation, evaluation during training); the previous mode comes back on every exit path,
// exceptions included. Generation requires eval mode and never switches it itself (see decoding/summarizer.h).
#include "pyramidion/models/summarization_model.h"

namespace pyramidion {

class EvalModeScope {
 public:
  explicit EvalModeScope(SummarizationModel model) : model_(std::move(model)), was_training_(model_->is_training()) {
    model_->eval();
  }
  ~EvalModeScope() {
    if (was_training_) model_->train();
  }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  SummarizationModel model_;
  bool was_training_;
};

}  // namespace pyramidion
