#include "pyramidion/benchmark/architecture_benchmark.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>

#include "pyramidion/decoding/beam_search.h"
#include "pyramidion/decoding/summary_generator.h"
#include "pyramidion/models/summarization_model.h"
#include "pyramidion/plot/svg_plot.h"
#include "pyramidion/util/peak_memory.h"
#include "pyramidion/util/runtime.h"
#include "pyramidion/util/timing.h"

namespace pyramidion {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMiB = 1024.0 * 1024.0;

// One architecture for the whole sweep: the model is built once (its weights do not depend on the input length).
struct ArchitectureState {
  const ArchitectureSpec* spec = nullptr;
  ModelConfig config;
  SummarizationModel model{nullptr};
  std::string training_stop;  // non-empty: longer lengths are skipped for training, this says why
  std::string inference_stop;
};

// What one architecture needs at one length while its training runs are measured.
struct TrainingRun {
  ArchitectureState* arch = nullptr;
  Measurement* measurement = nullptr;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  torch::Tensor source, source_mask, target_in, target_out;  // (batch, length), (batch, length), (batch, target) x2
  bool active = false;
};

struct InferenceRun {
  ArchitectureState* arch = nullptr;
  Measurement* measurement = nullptr;
  torch::Tensor source, source_mask;  // (documents, length)
  std::vector<double> encode_seconds;
  bool active = false;
};

void log_line(const ArchitectureBenchmarkOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

std::string dtype_name(torch::ScalarType dtype) {
  return dtype == torch::kBFloat16 ? "bfloat16"
         : dtype == torch::kHalf   ? "float16"
         : dtype == torch::kDouble ? "float64"
                                   : "float32";
}

int64_t element_bytes(torch::ScalarType dtype) { return static_cast<int64_t>(c10::elementSize(dtype)); }

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Seconds of `work`, the device's queue drained before and after.
template <typename Work>
double timed(const torch::Device& device, Work&& work) {
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  work();
  synchronize(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string first_line(const std::string& text) {
  const auto end = text.find('\n');
  std::string line = text.substr(0, end);
  return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

// Runs `work`; turns an allocation failure into out_of_memory and any other error into failed, so one point
// cannot end the sweep. Returns false when the work did not complete.
template <typename Work>
bool guarded(Measurement& m, const torch::Device& device, Work&& work) {
  try {
    work();
    return true;
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    const bool oom = message.find("out of memory") != std::string::npos ||
                     message.find("Out of memory") != std::string::npos ||
                     message.find("OutOfMemory") != std::string::npos;
    m.status = oom ? MeasurementStatus::out_of_memory : MeasurementStatus::failed;
    m.note = first_line(message);
  } catch (const std::bad_alloc&) {
    m.status = MeasurementStatus::out_of_memory;
    m.note = "std::bad_alloc";
  } catch (const std::exception& e) {
    m.status = MeasurementStatus::failed;
    m.note = first_line(e.what());
  }
  release_cached_device_memory(device);
  return false;
}

// The first warm-up run of a point, measured: on the CPU, freed blocks go back to the kernel meanwhile
// (ReturnFreedMemoryScope), so the peak resident growth is the peak of live memory, not of the heap kept for speed.
class MemoryMeasurement {
 public:
  MemoryMeasurement(PeakMemoryMeter& meter, const torch::Device& device) {
    if (device.is_cpu()) scope_.emplace();
    meter.start();
  }

 private:
  std::optional<ReturnFreedMemoryScope> scope_;
};

void clear_gradients(SummarizationModel& model) {
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
}

torch::Tensor random_tokens(const ModelConfig& c, int64_t rows, int64_t length, const torch::Device& device) {
  // Ids above the special tokens (pad/unk/bos/eos are 0..3 in every preset).
  const int64_t low = std::min<int64_t>(4, c.vocab_size - 1);
  return torch::randint(low, c.vocab_size, {rows, length}, torch::kLong).to(device);
}

void training_step(TrainingRun& run) {
  auto& model = run.arch->model;
  run.optimizer->zero_grad();
  torch::Tensor logits = model->forward(run.source, run.source_mask, run.target_in);  // (batch, target, vocab)
  torch::Tensor loss =
      torch::nn::functional::cross_entropy(logits.to(torch::kFloat).flatten(0, 1), run.target_out.flatten());
  loss.backward();
  run.optimizer->step();
}

// One generation run: encode, expand to beam rows, beam search of exactly gen_tokens tokens. Returns the
// encoder's seconds.
double generation_run(InferenceRun& run, const ArchitectureBenchmarkOptions& o) {
  torch::NoGradGuard no_grad;
  auto& model = run.arch->model;
  model->eval();
  const int64_t documents = run.source.size(0);
  EncoderOutput memory;
  const double encode = timed(o.device, [&] { memory = model->encode(run.source, run.source_mask); });
  auto cache = model->start_decoding(memory);
  cache.reorder(
      torch::arange(documents, torch::TensorOptions().dtype(torch::kLong).device(o.device)).repeat_interleave(o.beam));
  ModelIncrementalDecoder decoder(model, std::move(cache));
  BeamSearchOptions search_options;
  search_options.beam = o.beam;
  search_options.min_len = o.gen_tokens;  // EOS forbidden before gen_tokens tokens ...
  search_options.max_len_a = 0;
  search_options.max_len_b = o.gen_tokens;  // ... and forced after them: every architecture does the same steps
  const auto& c = model->config();
  BeamSearch search(search_options,
                    SpecialTokenIds{c.pad_id, /*unk: no penalty in timing runs*/ -1, c.bos_id, c.eos_id});
  const std::vector<int64_t> lengths(static_cast<size_t>(documents), run.source.size(1));
  const auto hypotheses = search.search(decoder, lengths, c.max_target_positions);
  for (const auto& doc : hypotheses)
    if (doc.empty() || static_cast<int64_t>(doc.front().tokens.size()) != o.gen_tokens)
      throw std::runtime_error(fmt::format("beam search produced {} tokens instead of {}",
                                           doc.empty() ? 0 : doc.front().tokens.size(), o.gen_tokens));
  return encode;
}

void finish(Measurement& m, double tokens_per_run) {
  m.median_seconds = median_of(m.seconds);
  m.tokens_per_second = m.median_seconds > 0 ? tokens_per_run / m.median_seconds : 0;
  if (m.status == MeasurementStatus::not_run) m.status = MeasurementStatus::ok;
}

// Marks the run too slow when one repetition exceeded the limit; longer lengths of the architecture are skipped.
bool check_too_slow(Measurement& m, std::string& stop, double seconds, const ArchitectureBenchmarkOptions& o,
                    int64_t length) {
  if (o.max_seconds <= 0 || seconds <= o.max_seconds) return false;
  m.status = MeasurementStatus::too_slow;
  m.note = fmt::format("a run took {:.1f} s > limit {:.1f} s", seconds, o.max_seconds);
  stop = fmt::format("too slow at {} tokens", length);
  return true;
}

std::string skip_note_memory(double estimate, double limit) {
  return fmt::format("skipped (estimated {:.1f} GB > limit {:.1f} GB)", estimate / 1e9, limit / 1e9);
}

void measure_training(std::vector<ArchitectureState>& archs, std::vector<BenchmarkPoint*>& points, int64_t length,
                      const ArchitectureBenchmarkOptions& o, PeakMemoryMeter& meter) {
  std::vector<TrainingRun> runs(archs.size());
  for (size_t i = 0; i < archs.size(); ++i) {
    auto& arch = archs[i];
    auto& run = runs[i];
    auto& m = points[i]->training;
    run.arch = &arch;
    run.measurement = &m;
    m.estimated_bytes = estimate_training_bytes(arch.config, length, o.batch, o.target_length, element_bytes(o.dtype));
    if (arch.spec->int8) {
      m.note = "int8: inference only";
      continue;
    }
    if (!arch.training_stop.empty()) {
      m.status = MeasurementStatus::skipped_too_slow;
      m.note = "skipped (" + arch.training_stop + ")";
      continue;
    }
    if (o.max_memory_bytes > 0 && m.estimated_bytes > o.max_memory_bytes) {
      m.status = MeasurementStatus::skipped_memory;
      m.note = skip_note_memory(m.estimated_bytes, o.max_memory_bytes);
      continue;
    }
    log_line(o, fmt::format("training  {:>6} tokens  {:<16} warm-up", length, arch.spec->name));
    const bool done = guarded(m, o.device, [&] {
      for (int w = 0; w < o.warmup; ++w) {
        double seconds = 0;
        if (w == 0) {  // memory: inputs, optimizer state and the first step, measured alone
          MemoryMeasurement measuring(meter, o.device);
          torch::manual_seed(o.seed + static_cast<uint64_t>(length));
          run.source = random_tokens(arch.config, o.batch, length, o.device);
          run.source_mask = torch::ones({o.batch, length}, torch::TensorOptions().dtype(torch::kBool).device(o.device));
          run.target_in = random_tokens(arch.config, o.batch, o.target_length, o.device);
          run.target_out = random_tokens(arch.config, o.batch, o.target_length, o.device);
          arch.model->train();
          run.optimizer = std::make_unique<torch::optim::AdamW>(arch.model->parameters(),
                                                                torch::optim::AdamWOptions(o.learning_rate));
          seconds = timed(o.device, [&] { training_step(run); });
          m.peak_bytes = meter.peak_bytes();
        } else {
          seconds = timed(o.device, [&] { training_step(run); });
        }
        if (check_too_slow(m, arch.training_stop, seconds, o, length)) {
          m.seconds.push_back(seconds);
          return;
        }
      }
      run.active = true;
    });
    if (!done) {
      arch.training_stop = fmt::format("{} at {} tokens", to_string(m.status), length);
      run.optimizer.reset();
      clear_gradients(arch.model);
    }
  }
  // Timed steps, round-robin over the architectures.
  for (int step = 0; step < o.steps; ++step) {
    for (auto& run : runs) {
      if (!run.active) continue;
      auto& m = *run.measurement;
      const bool done = guarded(m, o.device, [&] {
        const double seconds = timed(o.device, [&] { training_step(run); });
        m.seconds.push_back(seconds);
        if (check_too_slow(m, run.arch->training_stop, seconds, o, length)) run.active = false;
      });
      if (!done) {
        run.active = false;
        run.arch->training_stop = fmt::format("{} at {} tokens", to_string(m.status), length);
      }
    }
  }
  for (auto& run : runs) {
    if (run.measurement && !run.measurement->seconds.empty() &&
        (run.measurement->status == MeasurementStatus::not_run ||
         run.measurement->status == MeasurementStatus::too_slow)) {
      const auto status = run.measurement->status;
      finish(*run.measurement, static_cast<double>(o.batch * length));
      run.measurement->status = status == MeasurementStatus::not_run ? MeasurementStatus::ok : status;
    }
    if (run.measurement && run.measurement->ok())
      log_line(o, fmt::format("training  {:>6} tokens  {:<16} {:9.1f} ms/step", length, run.arch->spec->name,
                              run.measurement->median_seconds * 1e3));
    run.optimizer.reset();
    if (run.arch) clear_gradients(run.arch->model);
  }
}

void measure_inference(std::vector<ArchitectureState>& archs, std::vector<BenchmarkPoint*>& points, int64_t length,
                       const ArchitectureBenchmarkOptions& o, PeakMemoryMeter& meter) {
  std::vector<InferenceRun> runs(archs.size());
  for (size_t i = 0; i < archs.size(); ++i) {
    auto& arch = archs[i];
    auto& run = runs[i];
    auto& m = points[i]->inference;
    run.arch = &arch;
    run.measurement = &m;
    m.estimated_bytes =
        estimate_inference_bytes(arch.config, length, o.gen_batch, o.beam, o.gen_tokens, element_bytes(o.dtype));
    if (!arch.inference_stop.empty()) {
      m.status = MeasurementStatus::skipped_too_slow;
      m.note = "skipped (" + arch.inference_stop + ")";
      continue;
    }
    if (o.max_memory_bytes > 0 && m.estimated_bytes > o.max_memory_bytes) {
      m.status = MeasurementStatus::skipped_memory;
      m.note = skip_note_memory(m.estimated_bytes, o.max_memory_bytes);
      continue;
    }
    log_line(o, fmt::format("inference {:>6} tokens  {:<16} warm-up", length, arch.spec->name));
    const bool done = guarded(m, o.device, [&] {
      for (int w = 0; w < o.warmup; ++w) {
        double seconds = 0;
        if (w == 0) {
          torch::manual_seed(o.seed + static_cast<uint64_t>(length) + 1);
          run.source = random_tokens(arch.config, o.gen_batch, length, o.device);
          run.source_mask =
              torch::ones({o.gen_batch, length}, torch::TensorOptions().dtype(torch::kBool).device(o.device));
        }
        {
          // Every warm-up run is measured and the smallest peak kept: a generation run allocates the same each
          // time, and first-time allocations of the process (left over from training) only inflate one of them.
          MemoryMeasurement measuring(meter, o.device);
          seconds = timed(o.device, [&] { generation_run(run, o); });
          const int64_t peak = meter.peak_bytes();
          m.peak_bytes = w == 0 || peak < 0 ? peak : std::min(m.peak_bytes, peak);
        }
        if (check_too_slow(m, arch.inference_stop, seconds, o, length)) {
          m.seconds.push_back(seconds);
          return;
        }
      }
      run.active = true;
    });
    if (!done) arch.inference_stop = fmt::format("{} at {} tokens", to_string(m.status), length);
  }
  for (int step = 0; step < o.steps; ++step) {
    for (auto& run : runs) {
      if (!run.active) continue;
      auto& m = *run.measurement;
      const bool done = guarded(m, o.device, [&] {
        double encode = 0;
        const double seconds = timed(o.device, [&] { encode = generation_run(run, o); });
        m.seconds.push_back(seconds);
        run.encode_seconds.push_back(encode);
        if (check_too_slow(m, run.arch->inference_stop, seconds, o, length)) run.active = false;
      });
      if (!done) {
        run.active = false;
        run.arch->inference_stop = fmt::format("{} at {} tokens", to_string(m.status), length);
      }
    }
  }
  for (auto& run : runs) {
    auto* m = run.measurement;
    if (m && !m->seconds.empty() &&
        (m->status == MeasurementStatus::not_run || m->status == MeasurementStatus::too_slow)) {
      const auto status = m->status;
      finish(*m, static_cast<double>(o.gen_batch * o.gen_tokens));
      m->status = status == MeasurementStatus::not_run ? MeasurementStatus::ok : status;
      m->encode_seconds = median_of(run.encode_seconds);
    }
    if (m && m->ok())
      log_line(o, fmt::format("inference {:>6} tokens  {:<16} {:9.3f} s/run", length, run.arch->spec->name,
                              m->median_seconds));
  }
}

// One untimed training step and generation run at a small length before anything is measured: thread pools,
// allocator arenas and lazily built kernels would otherwise count against the first point only.
void warm_up_process(ArchitectureState& arch, const ArchitectureBenchmarkOptions& o) {
  const int64_t length = std::min<int64_t>(*std::min_element(o.lengths.begin(), o.lengths.end()), 256);
  Measurement scratch;
  guarded(scratch, o.device, [&] {
    torch::manual_seed(o.seed);
    TrainingRun run;
    run.arch = &arch;
    run.source = random_tokens(arch.config, 1, length, o.device);
    run.source_mask = torch::ones({1, length}, torch::TensorOptions().dtype(torch::kBool).device(o.device));
    run.target_in = random_tokens(arch.config, 1, std::min<int64_t>(o.target_length, 16), o.device);
    run.target_out = random_tokens(arch.config, 1, run.target_in.size(1), o.device);
    if (o.training) {
      arch.model->train();
      run.optimizer =
          std::make_unique<torch::optim::AdamW>(arch.model->parameters(), torch::optim::AdamWOptions(o.learning_rate));
      training_step(run);
      run.optimizer.reset();
      clear_gradients(arch.model);
    }
    if (o.inference) {
      InferenceRun generation;
      generation.arch = &arch;
      generation.source = run.source;
      generation.source_mask = run.source_mask;
      generation_run(generation, o);
    }
    synchronize(o.device);
  });
}

void validate(const std::vector<ArchitectureSpec>& archs, const ArchitectureBenchmarkOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("architecture benchmark: " + what); };
  if (archs.empty()) fail("no architectures");
  for (size_t i = 0; i < archs.size(); ++i)
    for (size_t j = i + 1; j < archs.size(); ++j)
      if (archs[i].name == archs[j].name) fail("architecture '" + archs[i].name + "' given twice");
  if (o.lengths.empty()) fail("no input lengths");
  for (int64_t length : o.lengths)
    if (length < 1) fail("input lengths must be positive");
  if (o.batch < 1 || o.target_length < 1) fail("batch and target length must be positive");
  if (o.steps < 1) fail("steps must be >= 1");
  if (o.warmup < 1) fail("warmup must be >= 1 (peak memory is measured on the warm-up runs)");
  if (o.gen_tokens < 1 || o.beam < 1 || o.gen_batch < 1) fail("gen-tokens, beam and gen-batch must be positive");
  if (!o.training && !o.inference) fail("nothing to measure (training and inference both off)");
}

std::string bytes_mib(int64_t bytes) {
  return bytes < 0 ? "n/a" : fmt::format("{:.1f}", static_cast<double>(bytes) / kMiB);
}

std::string ratio_text(double r) { return std::isfinite(r) ? fmt::format("{:.2f}x", r) : "-"; }

nlohmann::json measurement_json(const Measurement& m, bool training) {
  nlohmann::json j = {{"status", to_string(m.status)}};
  if (!m.note.empty()) j["note"] = m.note;
  j["seconds"] = m.seconds;
  j["median_seconds"] = m.seconds.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.median_seconds);
  if (training) {
    j["median_ms"] = m.seconds.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.median_seconds * 1e3);
    j["tokens_per_second"] = m.seconds.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.tokens_per_second);
  } else {
    j["encode_seconds"] = m.seconds.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.encode_seconds);
    j["generated_tokens_per_second"] =
        m.seconds.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.tokens_per_second);
  }
  j["peak_memory_bytes"] = m.peak_bytes >= 0 ? nlohmann::json(m.peak_bytes) : nlohmann::json(nullptr);
  j["estimated_memory_bytes"] = m.estimated_bytes;
  return j;
}

nlohmann::json nullable(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

const char* to_string(MeasurementStatus status) {
  switch (status) {
    case MeasurementStatus::ok:
      return "ok";
    case MeasurementStatus::too_slow:
      return "too slow";
    case MeasurementStatus::out_of_memory:
      return "out of memory";
    case MeasurementStatus::skipped_memory:
      return "skipped (memory)";
    case MeasurementStatus::skipped_too_slow:
      return "skipped";
    case MeasurementStatus::failed:
      return "failed";
    case MeasurementStatus::not_run:
      return "not run";
  }
  return "unknown";
}

ArchitectureBenchmarkResult run_architecture_benchmark(const std::vector<ArchitectureSpec>& architectures,
                                                       const ArchitectureBenchmarkOptions& options) {
  validate(architectures, options);
  const auto& o = options;
  ArchitectureBenchmarkResult result;
  result.options = options;
  result.options.log = nullptr;
  result.baseline = options.baseline;
  if (std::none_of(architectures.begin(), architectures.end(), [&](const auto& a) { return a.name == o.baseline; }))
    result.baseline = architectures.front().name;
  PeakMemoryMeter meter(o.device);
  result.memory_method = meter.method() + (o.device.is_cpu() ? ", freed blocks unmapped while measuring" : "") +
                         "; growth over the memory in use before (model weights excluded)";
  result.device_name = o.device.is_cpu() ? fmt::format("cpu ({} threads)", torch::get_num_threads()) : o.device.str();

  const int64_t longest = *std::max_element(o.lengths.begin(), o.lengths.end());
  std::vector<ArchitectureState> archs(architectures.size());
  for (size_t i = 0; i < architectures.size(); ++i) {
    auto& arch = archs[i];
    arch.spec = &architectures[i];
    arch.config = architectures[i].config;
    // Positions are sinusoidal: any length is free. The pooling widths stay as configured.
    arch.config.max_source_positions = std::max(arch.config.max_source_positions, longest);
    arch.config.max_target_positions = std::max({arch.config.max_target_positions, o.target_length, o.gen_tokens + 1});
    arch.config.validate();
    torch::manual_seed(o.seed);
    arch.model = SummarizationModel(arch.config);
    arch.model->to(o.device, o.dtype);
    if (architectures[i].int8) arch.model->quantize_int8();
    result.architectures.push_back({architectures[i].name, arch.config, architectures[i].int8});
  }

  for (int64_t length : o.lengths) {
    for (auto& arch : archs) {
      BenchmarkPoint point;
      point.architecture = arch.spec->name;
      point.length = length;
      point.summary = summarize_architecture(arch.config, {length, o.target_length, element_bytes(o.dtype)});
      result.points.push_back(std::move(point));
    }
  }
  auto points_at = [&](size_t length_index) {
    std::vector<BenchmarkPoint*> points;
    for (size_t i = 0; i < archs.size(); ++i) points.push_back(&result.points[length_index * archs.size() + i]);
    return points;
  };
  warm_up_process(archs.front(), o);
  // Generation first, over all lengths, then training: on the CPU the heap that training steps leave behind made
  // later generation peaks vary by tens of MiB; generation leaves little behind.
  for (size_t l = 0; o.inference && l < o.lengths.size(); ++l) {
    auto points = points_at(l);
    measure_inference(archs, points, o.lengths[l], o, meter);
  }
  for (size_t l = 0; o.training && l < o.lengths.size(); ++l) {
    auto points = points_at(l);
    measure_training(archs, points, o.lengths[l], o, meter);
  }
  return result;
}

const BenchmarkPoint* ArchitectureBenchmarkResult::find(const std::string& architecture, int64_t length) const {
  for (const auto& p : points)
    if (p.architecture == architecture && p.length == length) return &p;
  return nullptr;
}

double ArchitectureBenchmarkResult::ratio(const std::string& architecture, int64_t length,
                                          const std::string& quantity) const {
  const auto* p = find(architecture, length);
  const auto* base = find(baseline, length);
  if (!p || !base) return kNaN;
  const bool training = quantity.rfind("training", 0) == 0;
  const Measurement& a = training ? p->training : p->inference;
  const Measurement& b = training ? base->training : base->inference;
  if (!a.ok() || !b.ok()) return kNaN;
  if (quantity == "training_time" || quantity == "inference_time")
    return b.median_seconds > 0 ? a.median_seconds / b.median_seconds : kNaN;
  if (quantity == "training_memory" || quantity == "inference_memory")
    return a.peak_bytes >= 0 && b.peak_bytes > 0 ? static_cast<double>(a.peak_bytes) / static_cast<double>(b.peak_bytes)
                                                 : kNaN;
  throw std::invalid_argument("unknown ratio quantity '" + quantity + "'");
}

nlohmann::json ArchitectureBenchmarkResult::to_json() const {
  const auto& o = options;
  nlohmann::json archs = nlohmann::json::array();
  for (const auto& a : architectures) {
    nlohmann::json pooling = nlohmann::json::object();
    for (const auto& [layer, width] : a.config.pooling.schedule) pooling[std::to_string(layer)] = width;
    archs.push_back({{"name", a.name},
                     {"parameters", count_parameters(a.config)},
                     {"d_model", a.config.d_model},
                     {"attention_heads", a.config.attention_heads},
                     {"ffn_dim", a.config.ffn_dim},
                     {"encoder_layers", a.config.encoder_layers},
                     {"decoder_layers", a.config.decoder_layers},
                     {"vocab_size", a.config.vocab_size},
                     {"chunk_size", a.config.chunk_size},
                     {"pooling", pooling}});
  }
  nlohmann::json pts = nlohmann::json::array();
  for (const auto& p : points) {
    pts.push_back({{"architecture", p.architecture},
                   {"length", p.length},
                   {"encoder_lengths", p.summary.encoder_lengths()},
                   {"memory_length", p.summary.decoder_memory_length},
                   {"attention_flops",
                    {{"encoder_self", p.summary.encoder_self.flops},
                     {"decoder_cross", p.summary.decoder_cross.flops},
                     {"decoder_self", p.summary.decoder_self.flops}}},
                   {"training", measurement_json(p.training, true)},
                   {"inference", measurement_json(p.inference, false)},
                   {"ratios",
                    {{"training_time", nullable(ratio(p.architecture, p.length, "training_time"))},
                     {"training_memory", nullable(ratio(p.architecture, p.length, "training_memory"))},
                     {"inference_time", nullable(ratio(p.architecture, p.length, "inference_time"))},
                     {"inference_memory", nullable(ratio(p.architecture, p.length, "inference_memory"))}}}});
  }
  return {{"benchmark", "architectures"},
          {"device", o.device.str()},
          {"device_name", device_name},
          {"dtype", dtype_name(o.dtype)},
          {"threads", torch::get_num_threads()},
          {"memory_method", memory_method},
          {"baseline", baseline},
          {"options",
           {{"lengths", o.lengths},
            {"batch", o.batch},
            {"target_length", o.target_length},
            {"steps", o.steps},
            {"warmup", o.warmup},
            {"gen_tokens", o.gen_tokens},
            {"beam", o.beam},
            {"gen_batch", o.gen_batch},
            {"training", o.training},
            {"inference", o.inference},
            {"learning_rate", o.learning_rate},
            {"max_memory_bytes", o.max_memory_bytes},
            {"max_seconds", o.max_seconds},
            {"seed", o.seed}}},
          {"architectures", archs},
          {"points", pts}};
}

std::string ArchitectureBenchmarkResult::to_table() const {
  const auto& o = options;
  std::string out;
  out += fmt::format("device {}, {}, memory: {}\n", device_name, dtype_name(o.dtype), memory_method);
  out += fmt::format("ratios are against {} at the same length (< 1: less time / memory)\n", baseline);
  if (o.training) {
    out += fmt::format(
        "\ntraining step: forward + loss + backward + AdamW, batch {} x target {} tokens, median of {} after {} "
        "warm-up\n",
        o.batch, o.target_length, o.steps, o.warmup);
    out += fmt::format("{:>7}  {:<16} {:>10} {:>11} {:>10}  {:>9} {:>9}\n", "length", "architecture", "ms/step",
                       "tokens/s", "peak MiB", "time", "memory");
    for (const auto& p : points) {
      const auto& m = p.training;
      if (m.ok())
        out += fmt::format("{:>7}  {:<16} {:>10.1f} {:>11.0f} {:>10}  {:>9} {:>9}\n", p.length, p.architecture,
                           m.median_seconds * 1e3, m.tokens_per_second, bytes_mib(m.peak_bytes),
                           ratio_text(ratio(p.architecture, p.length, "training_time")),
                           ratio_text(ratio(p.architecture, p.length, "training_memory")));
      else
        out += fmt::format("{:>7}  {:<16} {}{}\n", p.length, p.architecture, to_string(m.status),
                           m.note.empty() ? "" : ": " + m.note);
    }
  }
  if (o.inference) {
    out += fmt::format(
        "\ninference: encode + beam search of {} tokens, {} document(s) x beam {}, median of {} after {} warm-up\n",
        o.gen_tokens, o.gen_batch, o.beam, o.steps, o.warmup);
    out += fmt::format("{:>7}  {:<16} {:>9} {:>9} {:>10} {:>10}  {:>9} {:>9}\n", "length", "architecture", "s/run",
                       "encode s", "gen tok/s", "peak MiB", "time", "memory");
    for (const auto& p : points) {
      const auto& m = p.inference;
      if (m.ok())
        out += fmt::format("{:>7}  {:<16} {:>9.3f} {:>9.3f} {:>10.1f} {:>10}  {:>9} {:>9}\n", p.length, p.architecture,
                           m.median_seconds, m.encode_seconds, m.tokens_per_second, bytes_mib(m.peak_bytes),
                           ratio_text(ratio(p.architecture, p.length, "inference_time")),
                           ratio_text(ratio(p.architecture, p.length, "inference_memory")));
      else
        out += fmt::format("{:>7}  {:<16} {}{}\n", p.length, p.architecture, to_string(m.status),
                           m.note.empty() ? "" : ": " + m.note);
    }
  }
  out += fmt::format("\nattention FLOPs per document, forward (decoder: {} target tokens)\n", o.target_length);
  out += fmt::format("{:>7}  {:<16} {:>10} {:>14} {:>15} {:>9}\n", "length", "architecture", "memory len",
                     "enc self GFLOP", "dec cross GFLOP", "cross");
  for (const auto& p : points) {
    const auto* base = find(baseline, p.length);
    const double cross = base && base->summary.decoder_cross.flops > 0
                             ? p.summary.decoder_cross.flops / base->summary.decoder_cross.flops
                             : kNaN;
    out += fmt::format("{:>7}  {:<16} {:>10} {:>14.2f} {:>15.2f} {:>9}\n", p.length, p.architecture,
                       p.summary.decoder_memory_length, p.summary.encoder_self.flops / 1e9,
                       p.summary.decoder_cross.flops / 1e9, ratio_text(cross));
  }
  return out;
}

std::string ArchitectureBenchmarkResult::to_svg() const {
  const auto& o = options;
  SvgLinePlot plot(fmt::format(
      "What pooling buys: {}, {}{}", device_name, dtype_name(o.dtype),
      architectures.empty()
          ? std::string()
          : fmt::format(", d {} / {}+{} layers", architectures.front().config.d_model,
                        architectures.front().config.encoder_layers, architectures.front().config.decoder_layers)));
  struct Quantity {
    bool training;
    bool memory;
    std::string title, y_label;
  };
  const std::vector<Quantity> quantities = {
      {true, false, fmt::format("Training step (batch {})", o.batch), "ms per step"},
      {false, false, fmt::format("Inference ({} doc x beam {}, {} tokens)", o.gen_batch, o.beam, o.gen_tokens),
       "seconds per run"},
      {true, true, "Training peak memory",
       "MiB (" + std::string(o.device.is_cuda() ? "allocator peak" : "peak RSS growth") + ")"},
      {false, true, "Inference peak memory",
       "MiB (" + std::string(o.device.is_cuda() ? "allocator peak" : "peak RSS growth") + ")"}};
  for (const auto& q : quantities) {
    if ((q.training && !o.training) || (!q.training && !o.inference)) continue;
    SvgPanel panel{q.title, "input tokens (log2 scale)", q.y_label, true, true, {}};
    for (const auto& a : architectures) {
      SvgSeries series{a.name, {}, {}};
      for (int64_t length : o.lengths) {
        const auto* p = find(a.name, length);
        const Measurement* m = p ? (q.training ? &p->training : &p->inference) : nullptr;
        double y = kNaN;
        if (m && m->ok()) {
          if (q.memory)
            y = m->peak_bytes >= 0 ? static_cast<double>(m->peak_bytes) / kMiB : kNaN;
          else
            y = q.training ? m->median_seconds * 1e3 : m->median_seconds;
        }
        series.x.push_back(static_cast<double>(length));
        series.y.push_back(y);
      }
      panel.series.push_back(std::move(series));
    }
    plot.add_panel(std::move(panel));
  }
  return plot.render();
}

}  // namespace pyramidion
