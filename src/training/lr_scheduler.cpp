#include "pyramidion/training/lr_scheduler.h"

#include <algorithm>
#include <cmath>

namespace pyramidion {

LrSchedule LrSchedule::from_config(const TrainingConfig& config) {
  LrSchedule s;
  s.kind = config.lr_scheduler;
  s.lr = config.lr;
  s.warmup_updates = config.warmup_updates;
  s.warmup_init_lr = config.warmup_init_lr;
  s.end_learning_rate = config.end_learning_rate;
  s.total_updates = config.total_updates;
  s.power = config.power;
  return s;
}

double LrSchedule::rate(int64_t update) const {
  update = std::max<int64_t>(update, 1);
  if (update < warmup_updates)
    return warmup_init_lr + static_cast<double>(update) * (lr - warmup_init_lr) / static_cast<double>(warmup_updates);
  switch (kind) {
    case LrSchedulerKind::inverse_sqrt:
      return lr * std::sqrt(static_cast<double>(std::max<int64_t>(warmup_updates, 1)) / static_cast<double>(update));
    case LrSchedulerKind::polynomial_decay: {
      if (update >= total_updates) return end_learning_rate;
      const double remaining =
          1.0 - static_cast<double>(update - warmup_updates) / static_cast<double>(total_updates - warmup_updates);
      return (lr - end_learning_rate) * std::pow(remaining, power) + end_learning_rate;
    }
    case LrSchedulerKind::cosine: {
      const double progress =
          std::min(1.0, static_cast<double>(update - warmup_updates) /
                            static_cast<double>(std::max<int64_t>(total_updates - warmup_updates, 1)));
      return end_learning_rate + (lr - end_learning_rate) * 0.5 * (1.0 + std::cos(M_PI * progress));
    }
    case LrSchedulerKind::constant:
      return lr;
  }
  return lr;
}

}  // namespace pyramidion
