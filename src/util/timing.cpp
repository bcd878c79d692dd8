#include "pyramidion/util/timing.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include <torch/version.h>

namespace pyramidion {

double TimingResult::median() const {
  if (seconds.empty()) return 0;
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const size_t m = sorted.size() / 2;
  return sorted.size() % 2 ? sorted[m] : 0.5 * (sorted[m - 1] + sorted[m]);
}

double TimingResult::min() const { return seconds.empty() ? 0 : *std::min_element(seconds.begin(), seconds.end()); }

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? -1 : device.index());
}

TimingResult time_repeated(const std::function<void()>& work, const c10::Device& device, const TimingOptions& options) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < options.warmup; ++i) work();
  synchronize(device);
  TimingResult result;
  const auto begin = clock::now();
  for (int i = 0; i < std::max(1, options.repetitions); ++i) {
    const auto start = clock::now();
    work();
    synchronize(device);
    result.seconds.push_back(std::chrono::duration<double>(clock::now() - start).count());
    if (options.max_seconds > 0 && std::chrono::duration<double>(clock::now() - begin).count() > options.max_seconds)
      break;
  }
  return result;
}

}  // namespace pyramidion
