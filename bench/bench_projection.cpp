// The decode step's output projection, rows x (vocab, dim): the one-pass kernel (nn/vocabulary_projection.h)
// against the BLAS product on the transposed matrix, at the row counts a decode step has (batch x beam).
// Run: build/bench_projection [--benchmark_filter=...]; one thread unless $PYRAMIDION_THREADS says otherwise.
// The row count where the BLAS product starts to win is what kVocabularyKernelRows should be.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "bench_main.h"

#include "pyramidion/nn/vocabulary_projection.h"

namespace {

constexpr int64_t kVocab = 32000, kDim = 256;  // the benchmark models' tied embedding (docs/benchmarks.md)

template <bool kKernel>
void BM_Projection(benchmark::State& state) {
  const int64_t rows = state.range(0);
  torch::manual_seed(0);
  const torch::Tensor weight = torch::randn({kVocab, kDim});  // (vocab, dim)
  const torch::Tensor hidden = torch::randn({rows, kDim});    // (rows, dim)
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    torch::Tensor out = kKernel ? pyramidion::project_rows_one_pass(hidden, weight)  // (rows, vocab)
                                : torch::matmul(hidden, weight.t());
    benchmark::DoNotOptimize(out.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * kVocab * kDim * 4);
}

}  // namespace

// The rows of a decode step (beam x batch), the same for both kernels.
static void DecodeStepRows(benchmark::internal::Benchmark* b) {
  b->ArgName("rows")->DenseRange(1, 4)->Arg(8)->Arg(12)->Arg(16)->Arg(32)->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK_TEMPLATE(BM_Projection, true)->Name("kernel/v32000_d256")->Apply(DecodeStepRows);
BENCHMARK_TEMPLATE(BM_Projection, false)->Name("blas/v32000_d256")->Apply(DecodeStepRows);

int main(int argc, char** argv) { return pyramidion::bench::run_benchmarks(argc, argv); }
