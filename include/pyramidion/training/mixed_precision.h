#pragma once
// Mixed precision on CUDA: an autocast scope (bf16 or fp16 matmuls, float32 weights) and, for fp16, dynamic
// loss scaling (fairseq's DynamicLossScaler: halve on overflow, double after `scale_window` clean updates).
#include <torch/types.h>

#include <cstdint>

#include "pyramidion/training/training_config.h"

namespace pyramidion {

// Enables CUDA autocast with the mode's dtype while alive (a no-op for AmpMode::none). Restores the previous
// state and clears the autocast weight-cast cache on destruction.
class AutocastScope {
 public:
  explicit AutocastScope(AmpMode mode);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool previous_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kHalf;
};

class DynamicLossScaler {
 public:
  explicit DynamicLossScaler(double initial_scale = 128.0, int64_t scale_window = 2000, double min_scale = 1e-4);

  double scale() const { return scale_; }
  // After an update: overflow = the gradients held Inf/NaN (the update was skipped).
  void update(bool overflow);

  // For checkpoints.
  int64_t clean_updates() const { return clean_updates_; }
  void restore(double scale, int64_t clean_updates);

 private:
  double scale_;
  int64_t scale_window_;
  double min_scale_;
  int64_t clean_updates_ = 0;
};

}  // namespace pyramidion
