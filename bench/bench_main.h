#pragma once
// The main() of the Google-benchmark programs in bench/: one intra-op thread unless $PYRAMIDION_THREADS says
// otherwise (so results compare with the single-thread numbers in docs/benchmarks.md), then the benchmarks.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>

namespace pyramidion::bench {

inline int run_benchmarks(int argc, char** argv) {
  int threads = 1;
  if (const char* env = std::getenv("PYRAMIDION_THREADS")) threads = std::max(1, std::atoi(env));
  torch::set_num_threads(threads);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace pyramidion::bench
