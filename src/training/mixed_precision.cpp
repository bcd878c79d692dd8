#include "pyramidion/training/mixed_precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <algorithm>

// PyTorch 2.4 replaced the CUDA-specific autocast setters with per-device-type ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define PYRAMIDION_AUTOCAST_BY_DEVICE_TYPE 1
#else
#define PYRAMIDION_AUTOCAST_BY_DEVICE_TYPE 0
#endif

namespace pyramidion {
namespace {

bool cuda_autocast_enabled() {
#if PYRAMIDION_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}

void set_cuda_autocast(bool enabled, torch::ScalarType dtype) {
#if PYRAMIDION_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
#else
  at::autocast::set_autocast_gpu_dtype(dtype);
  at::autocast::set_enabled(enabled);
#endif
}

torch::ScalarType cuda_autocast_dtype() {
#if PYRAMIDION_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  return at::autocast::get_autocast_gpu_dtype();
#endif
}

}  // namespace

AutocastScope::AutocastScope(AmpMode mode) {
  if (mode == AmpMode::none) return;
  active_ = true;
  previous_enabled_ = cuda_autocast_enabled();
  previous_dtype_ = cuda_autocast_dtype();
  at::autocast::increment_nesting();
  set_cuda_autocast(true, mode == AmpMode::bf16 ? torch::kBFloat16 : torch::kHalf);
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_cuda_autocast(previous_enabled_, previous_dtype_);
}

DynamicLossScaler::DynamicLossScaler(double initial_scale, int64_t scale_window, double min_scale)
    : scale_(initial_scale), scale_window_(scale_window), min_scale_(min_scale) {}

void DynamicLossScaler::update(bool overflow) {
  if (overflow) {
    scale_ = std::max(scale_ / 2.0, min_scale_);
    clean_updates_ = 0;
    return;
  }
  if (++clean_updates_ % scale_window_ == 0) scale_ *= 2.0;
}

void DynamicLossScaler::restore(double scale, int64_t clean_updates) {
  scale_ = scale;
  clean_updates_ = clean_updates;
}

}  // namespace pyramidion
