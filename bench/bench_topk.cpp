// Forward + backward of the successive-halving top-k: fused batched op vs the per-example reference loop.
// Run: build/bench_topk [--benchmark_filter=...]; threads from $PYRAMIDION_THREADS (default: 1 here, so
// results compare with the single-thread numbers in docs/benchmarks.md).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "bench_main.h"

#include "pyramidion/ops/successive_halving_topk.h"
#include "pyramidion/ops/successive_halving_topk_reference.h"
#include "pyramidion/util/runtime.h"

namespace {

template <bool kReference>
void BM_TopKForwardBackward(benchmark::State& state) {
  const int64_t batch = state.range(0), n = state.range(1), k = state.range(2), dim = state.range(3);
  torch::manual_seed(0);
  auto e = torch::randn({batch, n, dim}).requires_grad_(true);
  auto s = torch::rand({batch, n}).add_(1e-5).requires_grad_(true);
  auto grad = torch::randn({batch, k, dim});
  for (auto _ : state) {
    auto out = kReference ? pyramidion::successive_halving_topk_reference(e, s, k)
                          : pyramidion::successive_halving_topk(e, s, k);
    torch::autograd::backward({out.embeddings, out.scores}, {grad, torch::ones_like(out.scores)});
    benchmark::DoNotOptimize(e.grad().data_ptr());
    e.mutable_grad().reset();
    s.mutable_grad().reset();
  }
  state.SetBytesProcessed(state.iterations() * batch * n * dim * 4);
}

}  // namespace

BENCHMARK_TEMPLATE(BM_TopKForwardBackward, false)
    ->Name("fused/batch4_n8192_k512_d512")
    ->Args({4, 8192, 512, 512})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_TopKForwardBackward, true)
    ->Name("reference_loop/batch4_n8192_k512_d512")
    ->Args({4, 8192, 512, 512})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_TopKForwardBackward, false)
    ->Name("fused/batch8_n1024_k64_d64")
    ->Args({8, 1024, 64, 64})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_TopKForwardBackward, true)
    ->Name("reference_loop/batch8_n1024_k64_d64")
    ->Args({8, 1024, 64, 64})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

int main(int argc, char** argv) {
  pyramidion::keep_freed_memory();
  return pyramidion::bench::run_benchmarks(argc, argv);
}
