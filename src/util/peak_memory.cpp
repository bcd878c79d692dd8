#include "pyramidion/util/peak_memory.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// The CUDA allocator's statistics need the CUDA headers, which CPU-only LibTorch packages lack (Debian ships
// c10/cuda but not cuda_runtime_api.h).
#if defined(__has_include)
#if __has_include(<c10/cuda/CUDACachingAllocator.h>) && __has_include(<cuda_runtime_api.h>)
#define PYRAMIDION_HAVE_CUDA_ALLOCATOR_STATS 1
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#endif

namespace pyramidion {
namespace {

// A "Name:   1234 kB" line of /proc/self/status, in bytes; -1 when absent.
int64_t proc_status_bytes(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) != 0) continue;
    return std::stoll(line.substr(name.size() + 1)) * 1024;
  }
  return -1;
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

int64_t max_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // kB on Linux
}

void return_free_heap_pages() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

#ifdef PYRAMIDION_HAVE_CUDA_ALLOCATOR_STATS
c10::DeviceIndex cuda_index(const c10::Device& device) {
  return device.has_index() ? device.index() : static_cast<c10::DeviceIndex>(0);
}
int64_t cuda_allocated(const c10::Device& device, bool peak) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(cuda_index(device));
  const auto& aggregate = stats.allocated_bytes[0];
  return peak ? aggregate.peak : aggregate.current;
}
#endif

}  // namespace

bool cuda_memory_stats_compiled() {
#ifdef PYRAMIDION_HAVE_CUDA_ALLOCATOR_STATS
  return true;
#else
  return false;
#endif
}

PeakMemoryMeter::PeakMemoryMeter(c10::Device device) : device_(device) {
  if (device.is_cuda()) {
    method_ = cuda_memory_stats_compiled() ? Method::cuda_allocator : Method::unavailable;
  } else if (device.is_cpu()) {
    method_ = proc_status_bytes("VmHWM") >= 0 && reset_peak_rss() ? Method::resettable_rss : Method::maxrss;
  } else {
    method_ = Method::unavailable;
  }
}

void PeakMemoryMeter::start() {
  switch (method_) {
    case Method::cuda_allocator:
#ifdef PYRAMIDION_HAVE_CUDA_ALLOCATOR_STATS
      c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_index(device_));
      baseline_ = cuda_allocated(device_, /*peak=*/false);
#endif
      break;
    case Method::resettable_rss:
      return_free_heap_pages();
      if (!reset_peak_rss()) {
        method_ = Method::maxrss;
        baseline_ = max_rss_bytes();
        break;
      }
      baseline_ = proc_status_bytes("VmRSS");
      break;
    case Method::maxrss:
      return_free_heap_pages();
      baseline_ = max_rss_bytes();
      break;
    case Method::unavailable:
      break;
  }
}

int64_t PeakMemoryMeter::peak_bytes() const {
  switch (method_) {
    case Method::cuda_allocator:
#ifdef PYRAMIDION_HAVE_CUDA_ALLOCATOR_STATS
      return cuda_allocated(device_, /*peak=*/true) - baseline_;
#else
      return -1;
#endif
    case Method::resettable_rss:
      return std::max<int64_t>(0, proc_status_bytes("VmHWM") - baseline_);
    case Method::maxrss:
      return std::max<int64_t>(0, max_rss_bytes() - baseline_);
    case Method::unavailable:
      return -1;
  }
  return -1;
}

std::string PeakMemoryMeter::method() const {
  switch (method_) {
    case Method::cuda_allocator:
      return "cuda allocator peak (allocated bytes)";
    case Method::resettable_rss:
      return "peak RSS growth (VmHWM reset via /proc/self/clear_refs)";
    case Method::maxrss:
      return "peak RSS growth (ru_maxrss, not resettable)";
    case Method::unavailable:
      return "unavailable";
  }
  return "unavailable";
}

void release_cached_device_memory(const c10::Device& device) {
#ifdef PYRAMIDION_HAVE_CUDA_ALLOCATOR_STATS
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#else
  (void)device;
#endif
}

}  // namespace pyramidion
