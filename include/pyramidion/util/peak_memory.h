#pragma once
// Peak memory of a stretch of work on one device, as growth over what was in use when it began.
//
//   PeakMemoryMeter meter(device);
//   meter.start();
//   ... work ...
//   int64_t bytes = meter.peak_bytes();  // -1 when the device offers no way to measure
//
// CUDA: the caching allocator's peak of allocated bytes (reset at start()), minus the bytes allocated at start().
// CPU: the peak resident set size (VmHWM, reset by writing 5 to /proc/self/clear_refs) minus the resident size at
// start(), after malloc_trim(0) returned the heap's free pages to the kernel; freed memory that the process keeps
// (keep_freed_memory()) would otherwise be reused without counting. Where clear_refs is refused, the growth of
// getrusage's ru_maxrss, which cannot be reset and so undercounts after a larger earlier peak.
#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace pyramidion {

class PeakMemoryMeter {
 public:
  explicit PeakMemoryMeter(c10::Device device);

  void start();
  int64_t peak_bytes() const;  // growth since start(); -1 when unmeasurable

  // How the numbers are obtained, for reports: "cuda allocator peak (allocated bytes)", "peak RSS growth (VmHWM
  // reset via /proc/self/clear_refs)", "peak RSS growth (ru_maxrss, not resettable)" or "unavailable".
  std::string method() const;

 private:
  enum class Method { cuda_allocator, resettable_rss, maxrss, unavailable };
  c10::Device device_;
  Method method_;
  int64_t baseline_ = 0;
};

// Frees what the CUDA caching allocator holds (after an out-of-memory error); no-op elsewhere.
void release_cached_device_memory(const c10::Device& device);

// True when this build can read CUDA allocator statistics.
bool cuda_memory_stats_compiled();

}  // namespace pyramidion
