#include "pyramidion/util/runtime.h"

#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace pyramidion {

int configure_threads(int requested) {
  int n = requested;
  if (n <= 0) {
    if (const char* env = std::getenv("PYRAMIDION_THREADS")) n = std::atoi(env);
  }
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  torch::set_num_threads(n);
  return n;
}

namespace {
bool keeping_freed_memory = false;
}  // namespace

void keep_freed_memory() {
  if (const char* env = std::getenv("PYRAMIDION_KEEP_MEMORY"); env && std::strcmp(env, "0") == 0) return;
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  keeping_freed_memory = true;
#endif
}

ReturnFreedMemoryScope::ReturnFreedMemoryScope() {
#if defined(__GLIBC__)
  restore_ = keeping_freed_memory;
  mallopt(M_MMAP_MAX, 1 << 16);  // glibc's default
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  malloc_trim(0);
#endif
}

ReturnFreedMemoryScope::~ReturnFreedMemoryScope() {
#if defined(__GLIBC__)
  if (restore_) mallopt(M_MMAP_MAX, 0);
#endif
}

}  // namespace pyramidion
