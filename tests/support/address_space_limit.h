#pragma once
// Limits this process's address space (RLIMIT_AS) to what it maps now plus `extra_bytes` for a scope, so that a test
// can make one allocation fail (a line larger than memory) without using that memory. Restored on destruction.
// Not under AddressSanitizer or ThreadSanitizer: their allocators abort on a failed allocation (and need address
// space of their own), so the scope does nothing there and the tests that need it skip (active() is false).
#include <sys/resource.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace pyramidion::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizerAllocator = true;
#else
inline constexpr bool kSanitizerAllocator = false;
#endif
#else
inline constexpr bool kSanitizerAllocator = false;
#endif

class AddressSpaceLimit {
 public:
  explicit AddressSpaceLimit(uint64_t extra_bytes) {
    if (kSanitizerAllocator) {
      (void)extra_bytes;
      return;
    }
    ::getrlimit(RLIMIT_AS, &saved_);
    rlimit limit = saved_;
    limit.rlim_cur = mapped_bytes() + extra_bytes;
    active_ = ::setrlimit(RLIMIT_AS, &limit) == 0;
  }
  ~AddressSpaceLimit() {
    if (active_) ::setrlimit(RLIMIT_AS, &saved_);
  }
  AddressSpaceLimit(const AddressSpaceLimit&) = delete;
  AddressSpaceLimit& operator=(const AddressSpaceLimit&) = delete;
  bool active() const { return active_; }

  // VmSize of this process, in bytes.
  static uint64_t mapped_bytes() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
      if (key == "VmSize:") {
        uint64_t kb = 0;
        status >> kb;
        return kb * 1024;
      }
      std::getline(status, key);
    }
    return 0;
  }

 private:
  rlimit saved_{};
  bool active_ = false;
};

}  // namespace pyramidion::testing
