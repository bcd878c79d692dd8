#pragma once
// What pooling buys: training-step and generation time and peak memory of several architectures over a sweep of
// input lengths, measured in one run. Random weights and token ids; no data needed.
//
// Generation is measured over all lengths first, then training. For each length, every architecture is warmed
// up in turn (peak memory is measured there, one architecture at a time), then the timed repetitions go
// round-robin over the architectures (one run of each, then the next round), so drift of the machine (other
// processes, clocks) hits all alike.
//
//   training:  forward + cross-entropy (float32) + backward + AdamW step on (batch, length) sources and
//              (batch, target_length) targets; median seconds per step, input tokens/s.
//   inference: encode + beam search of exactly gen_tokens tokens (EOS forbidden before, forced after) for
//              gen_batch documents x beam; median seconds per run, generated tokens/s (documents x gen_tokens).
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pyramidion/models/architecture_summary.h"
#include "pyramidion/models/model_config.h"

namespace pyramidion {

struct ArchitectureSpec {
  std::string name;    // "blockwise", or a config file's stem
  ModelConfig config;  // max_source/target_positions are raised to what the sweep needs
  bool int8 = false;   // int8 weights, float32 activations (SummarizationModelImpl::quantize_int8): inference only
};

struct ArchitectureBenchmarkOptions {
  std::vector<int64_t> lengths = {1024, 2048, 4096, 8192, 16384};
  int64_t batch = 1;            // training documents per step
  int64_t target_length = 256;  // training target tokens
  int steps = 5;                // timed repetitions (training steps and generation runs)
  int warmup = 2;               // untimed first runs (>= 1: peak memory is measured on them)
  int64_t gen_tokens = 64;      // tokens generated per document
  int64_t beam = 4;
  int64_t gen_batch = 1;  // documents per generation run
  bool training = true;
  bool inference = true;
  std::string baseline = "blockwise";  // ratios are against this architecture (the first one when absent)
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat;  // kBFloat16: model weights in bf16, loss in float32
  double learning_rate = 1e-4;
  double max_memory_bytes = 0;  // > 0: skip a point whose estimated memory exceeds this
  double max_seconds = 0;       // > 0: a run longer than this marks the point too slow, longer lengths are skipped
  uint64_t seed = 0;
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

enum class MeasurementStatus {
  ok,
  too_slow,          // one run exceeded max_seconds
  out_of_memory,     // the allocator failed
  skipped_memory,    // the estimate exceeded max_memory_bytes
  skipped_too_slow,  // a shorter length was too slow or out of memory
  failed,            // another error (message in note)
  not_run,           // this kind of measurement was switched off
};
const char* to_string(MeasurementStatus status);

struct Measurement {
  MeasurementStatus status = MeasurementStatus::not_run;
  std::string note;             // why skipped / failed
  std::vector<double> seconds;  // timed runs
  double median_seconds = 0;
  double encode_seconds = 0;     // inference: median of the encoder part of each run
  double tokens_per_second = 0;  // training: input tokens; inference: generated tokens
  int64_t peak_bytes = -1;       // growth over the memory in use before the warm-up; -1 = unmeasured
  double estimated_bytes = 0;    // what the guard estimated, whole process share (weights included)
  bool ok() const { return status == MeasurementStatus::ok; }
};

struct BenchmarkPoint {
  std::string architecture;
  int64_t length = 0;
  ArchitectureSummary summary;  // per document at this length (training target length), forward
  Measurement training;
  Measurement inference;
};

struct ArchitectureBenchmarkResult {
  ArchitectureBenchmarkOptions options;
  std::vector<ArchitectureSpec> architectures;
  std::string baseline;                // the architecture ratios are against
  std::string memory_method;           // PeakMemoryMeter::method()
  std::string device_name;             // "cpu (2 threads)", "cuda:0 NVIDIA H200"
  std::vector<BenchmarkPoint> points;  // length-major, architectures in the given order

  const BenchmarkPoint* find(const std::string& architecture, int64_t length) const;

  // this / baseline at the same length for one of "training_time", "training_memory", "inference_time",
  // "inference_memory"; NaN when either side has no value.
  double ratio(const std::string& architecture, int64_t length, const std::string& quantity) const;

  nlohmann::json to_json() const;
  std::string to_table() const;  // plain-text tables: training, inference, attention FLOPs
  std::string to_svg() const;    // 2 x 2 panels: training / inference time and memory vs input length
};

// Checks the options (throws std::invalid_argument) and runs the sweep.
ArchitectureBenchmarkResult run_architecture_benchmark(const std::vector<ArchitectureSpec>& architectures,
                                                       const ArchitectureBenchmarkOptions& options);

}  // namespace pyramidion
