#pragma once
// Wall-clock measurement of repeated work, synchronizing the accelerator so its queued work counts.
#include <c10/core/Device.h>

#include <functional>
#include <vector>

namespace pyramidion {

struct TimingOptions {
  int warmup = 1;          // untimed runs first (allocator, caches, kernel selection)
  int repetitions = 5;     // timed runs
  double max_seconds = 0;  // > 0: stop repeating once this much time was spent (at least one timed run)
};

struct TimingResult {
  std::vector<double> seconds;  // one per timed run
  double median() const;
  double min() const;
};

// Blocks until all work queued on `device` has finished (no-op on the CPU).
void synchronize(const c10::Device& device);

TimingResult time_repeated(const std::function<void()>& work, const c10::Device& device,
                           const TimingOptions& options = {});

}  // namespace pyramidion
