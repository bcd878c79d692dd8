#pragma once
// Learning-rate schedules with linear warm-up (fairseq's inverse_sqrt, polynomial_decay, cosine and a constant rate).
// The rate is a pure function of the update number, so a resumed run needs no scheduler state beyond it.
#include <cstdint>

#include "pyramidion/training/training_config.h"

namespace pyramidion {

struct LrSchedule {
  LrSchedulerKind kind = LrSchedulerKind::inverse_sqrt;
  double lr = 5e-4;  // peak rate, reached at the end of warm-up
  int64_t warmup_updates = 0;
  double warmup_init_lr = 0.0;
  double end_learning_rate = 0.0;  // polynomial_decay, cosine
  int64_t total_updates = 0;       // polynomial_decay, cosine
  double power = 1.0;              // polynomial_decay

  static LrSchedule from_config(const TrainingConfig& config);

  // The rate used by update `update` (1-based: the first update is update 1).
  //   warm-up (update < warmup_updates): warmup_init_lr + update * (lr - warmup_init_lr) / warmup_updates
  //   inverse_sqrt:      lr * sqrt(max(warmup_updates, 1) / update)
  //   polynomial_decay:  update >= total_updates: end_learning_rate, else
  //                      (lr - end) * (1 - (update - warmup) / (total - warmup))^power + end
  //   cosine:            end + (lr - end) * (1 + cos(pi * min(1, (update - warmup) / (total - warmup)))) / 2
  //                      (one half-period from lr down to end_learning_rate, then end_learning_rate)
  //   constant:          lr
  double rate(int64_t update) const;
};

}  // namespace pyramidion
