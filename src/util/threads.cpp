#include "pyramidion/util/threads.h"

#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <thread>

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

}  // namespace pyramidion
