// `pyramidion bench [-c CONFIG ...] [--archs ...]`: training-step and generation time and peak memory per
// architecture and input length (issue 6). The library part is benchmark/architecture_benchmark.h.
#include <fmt/core.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "bench_commands.h"
#include "command.h"
#include "model_loading.h"
#include "numeric_checks.h"
#include "pyramidion/benchmark/architecture_benchmark.h"
#include "pyramidion/models/compute_type.h"
#include "pyramidion/models/presets.h"
#include "pyramidion/training/training_config.h"
#include "pyramidion/util/atomic_file.h"

namespace pyramidion::cli {
namespace {

struct BenchArchOptions {
  std::vector<std::string> configs;
  std::vector<std::string> archs;
  std::vector<std::string> overrides;
  std::vector<int64_t> lengths = {1024, 2048, 4096, 8192, 16384};
  int64_t batch = 1;
  int64_t target_length = 256;
  int steps = 5;
  int warmup = 2;
  int64_t gen_tokens = 64;
  int64_t beam = 4;
  int64_t gen_batch = 1;
  std::string device = "auto";
  std::string dtype = "float32";
  std::vector<std::string> compute_types = {"float32"};
  double max_memory_gb = 0;  // 0 = CPU: half the machine's memory; CUDA: no guard (out-of-memory is caught)
  double max_seconds = 0;
  std::string baseline = "blockwise";
  bool no_training = false;
  bool no_inference = false;
  double lr = 1e-4;
  uint64_t seed = 0;
  std::string json;
  std::string svg;
};

const std::vector<std::string> kDefaultArchitectures = {"vanilla", "blockwise", "transpooler", "deep-pyramidion"};

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0;
}

std::vector<ArchitectureSpec> resolve_architectures(const BenchArchOptions& o) {
  std::vector<ArchitectureSpec> specs;
  std::vector<std::string> presets = o.archs;
  if (presets.empty() && o.configs.empty()) presets = kDefaultArchitectures;
  try {
    for (const auto& name : presets) specs.push_back({name, resolve_run_config("", name, o.overrides, 0).model});
    for (const auto& path : o.configs)
      specs.push_back(
          {std::filesystem::path(path).stem().string(), resolve_run_config(path, "", o.overrides, 0).model});
  } catch (const std::invalid_argument& e) {
    throw CommandError(e.what());
  }
  // Each architecture once per compute type, side by side in one run: "blockwise" (float32), "blockwise/int8".
  std::vector<ArchitectureSpec> typed;
  for (const auto& spec : specs)
    for (const auto& name : o.compute_types) {
      ComputeType type;
      try {
        type = parse_compute_type(name);
      } catch (const std::invalid_argument& e) {
        throw CommandError(std::string("--compute-type ") + e.what(), 2);
      }
      if (type == ComputeType::automatic)
        type = resolve_compute_type(type, parse_device(o.device), /*file_is_int8=*/false);
      if (type != ComputeType::float32 && type != ComputeType::int8_float32)
        throw CommandError("--compute-type " + name + ": bench compares float32 and int8 (bfloat16: --dtype bfloat16)",
                           2);
      const bool int8 = type == ComputeType::int8_float32;
      if (int8 && o.dtype != "float32") throw CommandError("--compute-type int8: needs --dtype float32", 2);
      if (int8 && !parse_device(o.device).is_cpu()) throw CommandError("--compute-type int8: runs on the CPU only", 2);
      typed.push_back({spec.name + (int8 ? "/int8" : ""), spec.config, int8});
    }
  return typed;
}

void run(const BenchArchOptions& o) {
  auto specs = resolve_architectures(o);
  ArchitectureBenchmarkOptions options;
  options.lengths = o.lengths;
  options.batch = o.batch;
  options.target_length = o.target_length;
  options.steps = o.steps;
  options.warmup = o.warmup;
  options.gen_tokens = o.gen_tokens;
  options.beam = o.beam;
  options.gen_batch = o.gen_batch;
  options.training = !o.no_training;
  options.inference = !o.no_inference;
  options.baseline = o.baseline;
  options.device = parse_device(o.device);
  options.dtype = o.dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat;
  options.learning_rate = o.lr;
  options.seed = o.seed;
  options.max_seconds = o.max_seconds;
  if (o.max_memory_gb > 0)
    options.max_memory_bytes = o.max_memory_gb * 1e9;
  else if (options.device.is_cpu())
    options.max_memory_bytes = physical_memory_bytes() / 2;
  options.log = [](const std::string& line) { std::cerr << line << std::endl; };

  // Same depth and width is what makes the comparison fair; say so when the configs differ.
  for (const auto& s : specs) {
    const auto& a = s.config;
    const auto& b = specs.front().config;
    if (a.d_model != b.d_model || a.attention_heads != b.attention_heads || a.encoder_layers != b.encoder_layers ||
        a.decoder_layers != b.decoder_layers || a.ffn_dim != b.ffn_dim)
      std::cerr << "note: " << s.name << " differs from " << specs.front().name
                << " in d_model / heads / ffn / layers: its numbers are not like for like\n";
  }
  std::cout << "architectures (pooling widths as configured; max_source_positions raised to the longest input):\n";
  for (const auto& s : specs) {
    const auto& c = s.config;
    std::string pooling;
    for (const auto& [layer, width] : c.pooling.schedule)
      pooling += fmt::format("{}{}: {}", pooling.empty() ? "" : ", ", layer, width);
    std::cout << fmt::format("  {:<16} d {} / heads {} / ffn {}, {}+{} layers, chunk {}, pooling {{{}}}\n", s.name,
                             c.d_model, c.attention_heads, c.ffn_dim, c.encoder_layers, c.decoder_layers,
                             c.chunk_size > 0 ? std::to_string(c.chunk_size) : std::string("full"), pooling);
  }
  if (options.max_memory_bytes > 0)
    std::cout << fmt::format("memory guard: points estimated above {:.1f} GB are skipped\n",
                             options.max_memory_bytes / 1e9);
  std::cout << std::flush;

  ArchitectureBenchmarkResult result;
  try {
    result = run_architecture_benchmark(specs, options);
  } catch (const std::invalid_argument& e) {
    throw CommandError(e.what());
  }
  std::cout << "\n" << result.to_table();
  if (!o.json.empty()) {
    write_file_atomically(o.json, result.to_json().dump(2) + "\n");
    std::cout << "\nwrote " << o.json << "\n";
  }
  if (!o.svg.empty()) {
    write_file_atomically(o.svg, result.to_svg());
    std::cout << (o.json.empty() ? "\n" : "") << "wrote " << o.svg << "\n";
  }
}

}  // namespace

void add_bench_architectures(CLI::App& bench) {
  auto options = std::make_shared<BenchArchOptions>();
  auto& o = *options;
  bench.add_option("-c,--config", o.configs, "model config YAML file(s), named by their file stem")->take_all();
  bench.add_option("--archs", o.archs, "presets to compare (default: vanilla,blockwise,transpooler,deep-pyramidion)")
      ->delimiter(',');
  bench.add_option("--set", o.overrides, "override a key in every architecture, e.g. --set d_model=128")->take_all();
  bench.add_option("--lengths", o.lengths, "input lengths of the sweep")
      ->check(positive_number())
      ->delimiter(',')
      ->capture_default_str();
  bench.add_option("--batch", o.batch, "training documents per step")->check(positive_number())->capture_default_str();
  bench.add_option("--target-length", o.target_length, "training target tokens")
      ->check(positive_number())
      ->capture_default_str();
  bench.add_option("--steps", o.steps, "timed training steps / generation runs (median reported)")
      ->check(positive_number())
      ->capture_default_str();
  bench.add_option("--warmup", o.warmup, "untimed runs first (peak memory is measured on them)")
      ->check(non_negative_number())
      ->capture_default_str();
  bench.add_option("--gen-tokens", o.gen_tokens, "tokens generated per document (forced: no early EOS)")
      ->check(positive_number())
      ->capture_default_str();
  bench.add_option("--beam", o.beam, "beam size")->check(positive_number())->capture_default_str();
  bench.add_option("--gen-batch", o.gen_batch, "documents per generation run")
      ->check(positive_number())
      ->capture_default_str();
  bench.add_option("--device", o.device, "auto, cpu, cuda, cuda:N")->capture_default_str();
  bench.add_option("--dtype", o.dtype, "float32, or bfloat16 (model weights in bf16, loss in float32)")
      ->check(CLI::IsMember({"float32", "bfloat16"}))
      ->capture_default_str();
  bench
      .add_option("--compute-type", o.compute_types,
                  "float32, int8 (= int8_float32), auto; several (float32,int8) measure each architecture once per "
                  "type in one run, named ARCH and ARCH/int8 (int8: generation only)")
      ->delimiter(',')
      ->capture_default_str();
  bench
      .add_option("--max-memory-gb", o.max_memory_gb,
                  "skip points whose estimated memory exceeds this (default: half the RAM on the CPU, none on CUDA)")
      ->check(non_negative_number());
  bench
      .add_option("--max-seconds", o.max_seconds,
                  "a run longer than this marks the point too slow and skips longer lengths (0 = no limit)")
      ->capture_default_str()
      ->check(non_negative_number());
  bench.add_option("--baseline", o.baseline, "architecture the ratios are against")->capture_default_str();
  bench.add_flag("--no-training", o.no_training, "do not measure training steps");
  bench.add_flag("--no-inference", o.no_inference, "do not measure generation");
  bench.add_option("--lr", o.lr, "AdamW learning rate")->check(positive_number())->capture_default_str();
  bench.add_option("--seed", o.seed, "seed for weights and token ids")->capture_default_str();
  bench.add_option("--json", o.json, "write the results as JSON");
  bench.add_option("--svg", o.svg, "write time and memory vs input length as an SVG plot");
  bench.callback([options, &bench] {
    if (!bench.get_subcommands().empty()) return;  // `bench topk` ran instead
    const auto& o = *options;
    if (o.dtype == "bfloat16" && o.device == "cpu")
      std::cerr << "note: bfloat16 on the CPU is emulated by most LibTorch builds and slow\n";
    run(o);
  });
}

}  // namespace pyramidion::cli
