// `pyramidion bench int8`: the int8 linear kernels against float32 on this CPU, per matrix shape and row count —
// the measurement behind ops/int8_linear.h's choices (docs/benchmarks.md, "int8"). Candidates: float32 (what the
// float model runs: torch::linear, or the one-pass vocabulary kernel up to its row limit), the project's one-pass
// int8 kernel, its dequantize-block + GEMM path, and LibTorch's quantized::linear_dynamic through the dispatcher
// on every quantized engine this LibTorch has (per-channel qint8 weights, prepacked once).
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <memory>

#include "bench_commands.h"
#include "command.h"
#include "pyramidion/nn/vocabulary_projection.h"
#include "pyramidion/ops/int8_linear.h"
#include "pyramidion/util/timing.h"

namespace pyramidion::cli {
namespace {

struct BenchInt8Options {
  std::vector<int64_t> rows = {1, 2, 4, 8, 16, 32, 64, 512, 2048};
  std::vector<std::string> shapes = {"512x512", "2048x512", "512x2048", "32000x512"};
  int repetitions = 7;
};

struct Candidate {
  std::string name;
  std::function<torch::Tensor(const torch::Tensor&)> run;  // x (rows, in) -> (rows, out)
};

// quantized::linear_dynamic on `engine`, the weight prepacked once; empty run when the op or engine is missing.
Candidate libtorch_dynamic(const torch::Tensor& weight, const torch::Tensor& bias, c10::QEngine engine) {
  Candidate c{"libtorch " + c10::toString(engine), nullptr};
  try {
    at::globalContext().setQEngine(engine);
    const torch::Tensor scale = weight.abs().amax(1).div(127.0).clamp_min(1e-12).to(torch::kDouble);
    const torch::Tensor qweight =
        torch::quantize_per_channel(weight, scale, torch::zeros({weight.size(0)}, torch::kLong), 0, torch::kQInt8);
    const auto prepack = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "");
    torch::jit::Stack stack{qweight, bias.defined() ? c10::IValue(bias) : c10::IValue()};
    prepack.callBoxed(&stack);
    auto packed = std::make_shared<c10::IValue>(stack.at(0));
    const auto dynamic = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_dynamic", "");
    c.run = [packed, dynamic, engine](const torch::Tensor& x) {
      at::globalContext().setQEngine(engine);
      torch::jit::Stack s{x, *packed, false};
      dynamic.callBoxed(&s);
      return s.at(0).toTensor();
    };
  } catch (const std::exception& e) {
    std::cerr << c.name << ": unavailable (" << std::string(e.what()).substr(0, 120) << ")\n";
  }
  return c;
}

void run(const BenchInt8Options& o) {
  std::cout << fmt::format(
      "int8 linear kernels, {} threads, AVX2 copy: {}; ms per call (median of {}), ratio = "
      "float32 / candidate\n",
      torch::get_num_threads(), int8_linear_has_avx2() ? "yes" : "no", o.repetitions);
  torch::NoGradGuard no_grad;
  for (const auto& shape : o.shapes) {
    const auto x_at = shape.find('x');
    if (x_at == std::string::npos) throw CommandError("--shapes " + shape + ": OUTxIN expected", 2);
    const int64_t out = std::stoll(shape.substr(0, x_at)), in = std::stoll(shape.substr(x_at + 1));
    torch::manual_seed(0);
    const torch::Tensor weight = torch::randn({out, in}) * 0.05;  // (out, in)
    const bool vocabulary = out > 4 * in;                         // bias-free, as the output projection
    const torch::Tensor bias = vocabulary ? torch::Tensor() : torch::randn({out});
    const Int8Rows q = quantize_rows(weight);
    std::vector<Candidate> candidates;
    candidates.push_back({"float32", [&](const torch::Tensor& x) {
                            if (vocabulary && x.size(0) <= kVocabularyKernelRows)
                              return project_rows_one_pass(x, weight);
                            return torch::linear(x, weight, bias);
                          }});
    candidates.push_back({"int8 one-pass", [&](const torch::Tensor& x) {
                            torch::Tensor y = int8_linear_one_pass(x, q.values, q.scale);
                            return bias.defined() ? y.add_(bias) : y;
                          }});
    candidates.push_back({"int8 block+gemm", [&](const torch::Tensor& x) {
                            torch::Tensor y = int8_linear_blocked_gemm(x, q.values, q.scale);
                            return bias.defined() ? y.add_(bias) : y;
                          }});
    candidates.push_back(
        {"int8_linear (chosen)", [&](const torch::Tensor& x) { return int8_linear(x, q.values, q.scale, bias); }});
    for (const auto engine : at::globalContext().supportedQEngines()) {
      if (engine == c10::QEngine::NoQEngine) continue;
      Candidate c = libtorch_dynamic(weight, bias, engine);
      if (c.run) candidates.push_back(std::move(c));
    }
    std::cout << fmt::format("\n{} (out x in){}\n{:>6}", shape, vocabulary ? ", the output projection" : "", "rows");
    for (const auto& c : candidates) std::cout << fmt::format(" {:>22}", c.name);
    std::cout << "\n";
    for (int64_t rows : o.rows) {
      const torch::Tensor x = torch::randn({rows, in});
      // Enough calls per sample for ~ms resolution; candidates alternate per repetition (drift hits all alike).
      const int inner =
          static_cast<int>(std::clamp<int64_t>(4000000 / std::max<int64_t>(rows * in * out / 64, 1), 1, 200));
      std::vector<std::vector<double>> samples(candidates.size());
      for (auto& c : candidates) c.run(x);  // warm-up
      for (int r = 0; r < o.repetitions; ++r)
        for (size_t i = 0; i < candidates.size(); ++i) {
          const TimingResult t = time_repeated(
              [&] {
                for (int k = 0; k < inner; ++k) candidates[i].run(x);
              },
              torch::kCPU, {0, 1, 0});
          samples[i].push_back(t.median() / inner);
        }
      std::vector<double> ms;
      for (auto& s : samples) {
        std::sort(s.begin(), s.end());
        ms.push_back(s[s.size() / 2] * 1e3);
      }
      std::cout << fmt::format("{:>6}", rows);
      for (size_t i = 0; i < candidates.size(); ++i)
        std::cout << (i == 0 ? fmt::format(" {:>14.3f}        ", ms[i])
                             : fmt::format(" {:>10.3f} ({:>5.2f}x)", ms[i], ms[0] / ms[i]));
      std::cout << "\n" << std::flush;
    }
  }
}

}  // namespace

void add_bench_int8(CLI::App& bench) {
  auto o = std::make_shared<BenchInt8Options>();
  auto* cmd = bench.add_subcommand("int8", "int8 linear kernels vs float32 per matrix shape and row count");
  cmd->add_option("--rows", o->rows, "rows (tokens x beams) per call")->delimiter(',')->capture_default_str();
  cmd->add_option("--shapes", o->shapes, "matrices OUTxIN")->delimiter(',')->capture_default_str();
  cmd->add_option("--repetitions", o->repetitions, "timed samples per point")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([o] { run(*o); });
}

}  // namespace pyramidion::cli
