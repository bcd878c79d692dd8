// `pyramidion bench topk`: speed of the fused successive-halving top-k against the per-example reference
// loop (forward + backward), and its approximation quality against the exact top-k.
#include <fmt/core.h>
#include <torch/torch.h>

#include "bench_commands.h"
#include "command.h"
#include "numeric_checks.h"
#include "pyramidion/benchmark/topk_approximation.h"
#include "pyramidion/ops/successive_halving_topk.h"
#include "pyramidion/ops/successive_halving_topk_reference.h"
#include "pyramidion/util/timing.h"

namespace pyramidion::cli {
namespace {

struct BenchTopKOptions {
  int64_t batch = 4, n = 8192, k = 512, dim = 512;
  std::string device = "cpu";
  std::string dtype = "float32";
  int repetitions = 5;
  bool skip_reference = false;
  bool skip_quality = false;
  bool skip_speed = false;
  std::vector<int64_t> ratios = {2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
};

double time_forward_backward(bool reference, const BenchTopKOptions& o, torch::Device device, torch::ScalarType dtype) {
  torch::manual_seed(0);
  auto opts = torch::TensorOptions().device(device).dtype(dtype);
  auto e = torch::randn({o.batch, o.n, o.dim}, opts).requires_grad_(true);
  auto s = torch::rand({o.batch, o.n}, opts.dtype(torch::kFloat)).add_(1e-5).requires_grad_(true);
  auto grad = torch::randn({o.batch, o.k, o.dim}, opts);
  auto step = [&] {
    auto out = reference ? successive_halving_topk_reference(e, s, o.k) : successive_halving_topk(e, s, o.k);
    torch::autograd::backward({out.embeddings, out.scores}, {grad, torch::ones_like(out.scores)});
    e.mutable_grad().reset();
    s.mutable_grad().reset();
  };
  TimingOptions timing;
  timing.warmup = 1;
  timing.repetitions = reference ? std::min(o.repetitions, 3) : o.repetitions;
  return time_repeated(step, device, timing).median();
}

void run(const BenchTopKOptions& o) {
  const torch::Device device(o.device);
  const auto dtype = o.dtype == "float64"    ? torch::kDouble
                     : o.dtype == "bfloat16" ? torch::kBFloat16
                     : o.dtype == "float16"  ? torch::kHalf
                                             : torch::kFloat;
  if (!o.skip_speed) {
    fmt::print("successive-halving top-k, forward+backward: batch {}, n {}, k {}, dim {}, {} on {}, {} threads\n",
               o.batch, o.n, o.k, o.dim, o.dtype, o.device, torch::get_num_threads());
    const double fused = time_forward_backward(false, o, device, dtype);
    fmt::print("  fused batched op      {:10.3f} ms\n", fused * 1e3);
    if (!o.skip_reference) {
      const double loop = time_forward_backward(true, o, device, dtype);
      fmt::print("  per-example loop      {:10.3f} ms\n", loop * 1e3);
      fmt::print("  speed-up              {:10.1f}x\n", loop / fused);
    }
  }
  if (!o.skip_quality) {
    TopKApproximationOptions quality;
    fmt::print(
        "\napproximation quality (mean best cosine similarity of the true top-k to the output; "
        "k {}, dim {}, {} trials, base {})\n",
        quality.k, quality.dim, quality.trials, quality.base);
    fmt::print("  {:>6}  {:>8}\n", "n/k", "quality");
    for (int64_t ratio : o.ratios) {
      fmt::print("  {:>6}  {:>8.4f}\n", ratio, topk_approximation_quality(ratio, quality));
    }
  }
}

}  // namespace

void add_bench_topk(CLI::App& bench) {
  auto options = std::make_shared<BenchTopKOptions>();
  auto* cmd =
      bench.add_subcommand("topk", "successive-halving top-k: speed vs the per-example loop, approximation quality");
  cmd->add_option("--batch", options->batch, "batch size")->check(positive_number())->capture_default_str();
  cmd->add_option("-n,--n", options->n, "input length")->check(positive_number())->capture_default_str();
  cmd->add_option("-k,--k", options->k, "output length")->check(positive_number())->capture_default_str();
  cmd->add_option("--dim", options->dim, "vector size")->check(positive_number())->capture_default_str();
  cmd->add_option("--device", options->device, "cpu, cuda, cuda:1, ...")->capture_default_str();
  cmd->add_option("--dtype", options->dtype, "float32, float64, bfloat16, float16")
      ->check(CLI::IsMember({"float32", "float64", "bfloat16", "float16"}))
      ->capture_default_str();
  cmd->add_option("--repetitions", options->repetitions, "timed runs (median reported)")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--ratios", options->ratios, "n/k values of the quality table")->check(positive_number());
  cmd->add_flag("--skip-reference", options->skip_reference, "do not time the per-example loop");
  cmd->add_flag("--skip-quality", options->skip_quality, "no approximation-quality table");
  cmd->add_flag("--skip-speed", options->skip_speed, "no timing");
  cmd->callback([options] {
    if (options->device.rfind("cuda", 0) == 0 && !torch::cuda::is_available())
      throw CommandError("--device " + options->device + ": this build or machine has no CUDA device");
    if (options->k < 1 || options->n < 1 || options->batch < 1 || options->dim < 1)
      throw CommandError("--batch, --n, --k and --dim must be positive");
    run(*options);
  });
}

}  // namespace pyramidion::cli
