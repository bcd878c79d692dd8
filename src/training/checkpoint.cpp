#include "pyramidion/training/checkpoint.h"

#include "pyramidion/data/tokenizer.h"

#include <fmt/core.h>

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <torch/version.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "pyramidion/models/model_file.h"
#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/tensor_archive.h"

namespace pyramidion {
namespace fs = std::filesystem;
namespace {

const char* const kStateSuffix = ".state-u";

std::string state_file_name(const std::string& path, int64_t update) {
  return fs::path(path).filename().string() + kStateSuffix + std::to_string(update);
}

// State files of `path` other than `keep` (a file name, "" = all).
void remove_state_files(const std::string& path, const std::string& keep) {
  const fs::path p(path);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string prefix = p.filename().string() + kStateSuffix;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name != keep) fs::remove(entry.path(), ec);
  }
}

torch::Tensor generator_state(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_generator_state(at::Generator generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// AdamW moments as named tensors "adamw.<group>.<index>.<field>". The optimizer's own archive format goes
// through the TorchScript unpickler (crashed on load in a pip LibTorch 2.11 build), and its state map is
// keyed differently across LibTorch versions.
#if TORCH_VERSION_MAJOR >= 2
void* state_key(const torch::Tensor& p) { return p.unsafeGetTensorImpl(); }
#else
std::string state_key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }
#endif

std::string moment_name(size_t group, size_t index, const char* field) {
  return "adamw." + std::to_string(group) + "." + std::to_string(index) + "." + field;
}

void add_optimizer_state(torch::optim::Optimizer& optimizer, NamedTensors& out) {
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (size_t i = 0; i < params.size(); ++i) {
      auto found = optimizer.state().find(state_key(params[i]));
      if (found == optimizer.state().end()) continue;
      const auto* s = dynamic_cast<const torch::optim::AdamWParamState*>(found->second.get());
      if (s == nullptr) throw std::runtime_error("checkpoint: only AdamW optimizer state can be saved");
      out.emplace_back(moment_name(g, i, "step"), torch::tensor({s->step()}, torch::kLong));
      out.emplace_back(moment_name(g, i, "exp_avg"), s->exp_avg());
      out.emplace_back(moment_name(g, i, "exp_avg_sq"), s->exp_avg_sq());
      if (s->max_exp_avg_sq().defined()) out.emplace_back(moment_name(g, i, "max_exp_avg_sq"), s->max_exp_avg_sq());
    }
  }
}

void restore_optimizer_state(torch::optim::Optimizer& optimizer, const std::map<std::string, torch::Tensor>& saved) {
  optimizer.state().clear();
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (size_t i = 0; i < params.size(); ++i) {
      auto step = saved.find(moment_name(g, i, "step"));
      if (step == saved.end()) continue;  // no update touched this parameter yet
      auto moment = [&](const char* field) {
        auto it = saved.find(moment_name(g, i, field));
        return it == saved.end() ? torch::Tensor() : it->second.to(params[i].device());
      };
      auto state = std::make_unique<torch::optim::AdamWParamState>();
      state->step(step->second.item<int64_t>());
      state->exp_avg(moment("exp_avg"));
      state->exp_avg_sq(moment("exp_avg_sq"));
      if (auto m = moment("max_exp_avg_sq"); m.defined()) state->max_exp_avg_sq(m);
      if (!state->exp_avg().defined() || !state->exp_avg_sq().defined() ||
          state->exp_avg().sizes() != params[i].sizes())
        throw std::runtime_error("optimizer state of parameter " + std::to_string(i) + " does not match the model");
      optimizer.state()[state_key(params[i])] = std::move(state);
    }
  }
}

}  // namespace

namespace {

// FNV-1a-64 of the state file's bytes, kept in the model file's (itself checksummed) metadata: a flipped bit in
// the optimizer state is found at --resume instead of silently steering the run.
std::string state_checksum(const std::string& bytes) {
  uint64_t hash = 1469598103934665603ull;
  for (const unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return fmt::format("{:016x}", hash);
}

// Values no run can reach mean a crafted or damaged state: refused, naming the field.
void check_state_ranges(const TrainingState& s) {
  auto fail = [](const char* field, const std::string& value) {
    throw std::runtime_error(std::string("training state: ") + field + ": " + value + " is out of range");
  };
  auto non_negative = [&](const char* field, int64_t v) {
    if (v < 0) fail(field, std::to_string(v));
  };
  non_negative("update", s.update);
  if (s.epoch < 1) fail("epoch", std::to_string(s.epoch));
  non_negative("batch_in_epoch", s.batch_in_epoch);
  non_negative("skipped_updates", s.skipped_updates);
  non_negative("nonfinite_in_a_row", s.nonfinite_in_a_row);
  non_negative("best_update", s.best_update);
  if (s.best_update > s.update) fail("best_update", std::to_string(s.best_update) + " > update");
  if (s.last_validated_update < -1 || s.last_validated_update > s.update)
    fail("last_validated_update", std::to_string(s.last_validated_update));
  if (!std::isfinite(s.loss_scale) || s.loss_scale <= 0) fail("loss_scale", fmt::format("{}", s.loss_scale));
  non_negative("loss_scale_clean_updates", s.loss_scale_clean_updates);
  if (!std::isfinite(s.training_seconds) || s.training_seconds < 0)
    fail("training_seconds", fmt::format("{}", s.training_seconds));
  non_negative("train_examples", s.train_examples);
  non_negative("curriculum_stage", s.curriculum_stage);
  non_negative("validations_without_improvement", s.validations_without_improvement);
  for (const auto& c : s.best_checkpoints)
    if (c.update < 0 || c.update > s.update || !std::isfinite(c.metric))
      fail("best_checkpoints", fmt::format("update {} metric {}", c.update, c.metric));
  if (s.world_size < 1) fail("world_size", std::to_string(s.world_size));
  non_negative("interval_updates", s.interval_updates);
  non_negative("interval_target_tokens", s.interval_target_tokens);
  non_negative("interval_source_tokens", s.interval_source_tokens);
}

}  // namespace

nlohmann::json TrainingState::to_json() const {
  nlohmann::json ranked = nlohmann::json::array();
  for (const auto& c : best_checkpoints) ranked.push_back({{"update", c.update}, {"metric", c.metric}});
  return {{"update", update},
          {"epoch", epoch},
          {"batch_in_epoch", batch_in_epoch},
          {"skipped_updates", skipped_updates},
          {"nonfinite_in_a_row", nonfinite_in_a_row},
          {"has_best", has_best},
          {"best_metric", best_metric},
          {"best_update", best_update},
          {"last_validated_update", last_validated_update},
          {"loss_scale", loss_scale},
          {"loss_scale_clean_updates", loss_scale_clean_updates},
          {"training_seconds", training_seconds},
          {"train_examples", train_examples},
          {"curriculum_stage", curriculum_stage},
          {"validations_without_improvement", validations_without_improvement},
          {"best_checkpoints", ranked},
          {"world_size", world_size},
          {"interval_updates", interval_updates},
          {"interval_loss_sum", interval_loss_sum},
          {"interval_nll_sum", interval_nll_sum},
          {"interval_grad_norm_sum", interval_grad_norm_sum},
          {"interval_target_tokens", interval_target_tokens},
          {"interval_source_tokens", interval_source_tokens}};
}

TrainingState TrainingState::from_json(const nlohmann::json& json) {
  TrainingState s;
  try {
    s.update = json.at("update").get<int64_t>();
    s.epoch = json.at("epoch").get<int64_t>();
    s.batch_in_epoch = json.at("batch_in_epoch").get<int64_t>();
    s.skipped_updates = json.at("skipped_updates").get<int64_t>();
    s.nonfinite_in_a_row = json.at("nonfinite_in_a_row").get<int64_t>();
    s.has_best = json.at("has_best").get<bool>();
    s.best_metric = json.at("best_metric").is_number() ? json.at("best_metric").get<double>() : 0.0;
    s.best_update = json.at("best_update").get<int64_t>();
    s.last_validated_update = json.at("last_validated_update").get<int64_t>();
    s.loss_scale = json.at("loss_scale").get<double>();
    s.loss_scale_clean_updates = json.at("loss_scale_clean_updates").get<int64_t>();
    s.training_seconds = json.at("training_seconds").get<double>();
    s.train_examples = json.at("train_examples").get<int64_t>();
    s.curriculum_stage = json.value("curriculum_stage", int64_t{0});  // state files before curricula lack it
    s.validations_without_improvement = json.value("validations_without_improvement", int64_t{0});
    if (json.contains("best_checkpoints"))
      for (const auto& c : json.at("best_checkpoints"))
        s.best_checkpoints.push_back({c.at("update").get<int64_t>(), c.at("metric").get<double>()});
    s.world_size = json.value("world_size", int64_t{1});  // ... and those before multi-process training
    s.interval_updates = json.at("interval_updates").get<int64_t>();
    s.interval_loss_sum = json.at("interval_loss_sum").get<double>();
    s.interval_nll_sum = json.at("interval_nll_sum").get<double>();
    s.interval_grad_norm_sum = json.at("interval_grad_norm_sum").get<double>();
    s.interval_target_tokens = json.at("interval_target_tokens").get<int64_t>();
    s.interval_source_tokens = json.at("interval_source_tokens").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("training state: ") + e.what());
  }
  check_state_ranges(s);
  return s;
}

void save_checkpoint(const std::string& path, SummarizationModel& model, const std::string& tokenizer_bytes,
                     const TrainingState& state, torch::optim::Optimizer* optimizer,
                     const nlohmann::json& extra_metadata) {
  nlohmann::json metadata = extra_metadata.is_object() ? extra_metadata : nlohmann::json::object();
  metadata["kind"] = "checkpoint";
  metadata["training_state"] = state.to_json();
  if (!tokenizer_bytes.empty())
    metadata["tokenizer_checksum"] = data::tokenizer_checksum_text(data::tokenizer_checksum(tokenizer_bytes));
  std::string state_name;
  if (optimizer != nullptr) {
    state_name = state_file_name(path, state.update);
    NamedTensors tensors;
    add_optimizer_state(*optimizer, tensors);
    tensors.emplace_back("cpu_rng", generator_state(at::detail::getDefaultCPUGenerator()));
    if (torch::cuda::is_available()) {
      for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
        tensors.emplace_back("cuda_rng." + std::to_string(i),
                             generator_state(at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, i))));
    }
    const fs::path dir = fs::path(path).parent_path();
    const std::string bytes = serialize_tensors(tensors);
    write_file_atomically((dir / state_name).string(), bytes);
    metadata["state_file"] = state_name;
    metadata["state_file_fnv1a64"] = state_checksum(bytes);
  }
  save_model_file(path, model, tokenizer_bytes, metadata);
  remove_state_files(path, state_name);
}

CheckpointContents load_checkpoint(const std::string& path, SummarizationModel& model,
                                   torch::optim::Optimizer* optimizer) {
  const auto contents = read_model_file_contents(path);
  CheckpointContents loaded;
  loaded.metadata = nlohmann::json::parse(contents.metadata_json, nullptr, false);
  if (loaded.metadata.is_discarded() || !loaded.metadata.is_object() || !loaded.metadata.contains("training_state"))
    throw std::runtime_error(path + ": not a training checkpoint (no training state in its metadata)");
  try {
    loaded.state = TrainingState::from_json(loaded.metadata["training_state"]);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  if (contents.config_yaml != model->config().to_yaml_string()) {
    const auto saved = ModelConfig::from_yaml_string(contents.config_yaml, path);
    if (saved.to_yaml_string() != model->config().to_yaml_string())
      throw std::runtime_error(path +
                               ": the checkpoint's model config differs from this run's (compare the model: "
                               "section of the checkpoint, `pyramidion info " +
                               path + "`)");
  }
  load_model_weights(*model, contents.weights, path);
  loaded.tokenizer_bytes = contents.tokenizer_bytes;
  if (optimizer == nullptr) return loaded;
  if (!loaded.metadata.contains("state_file"))
    throw std::runtime_error(path + ": holds no optimizer state (a best/inference checkpoint cannot be resumed)");
  const fs::path state_path = fs::path(path).parent_path() / loaded.metadata["state_file"].get<std::string>();
  if (!fs::exists(state_path))
    throw std::runtime_error(path + ": its state file " + state_path.string() + " is missing");
  std::map<std::string, torch::Tensor> saved;
  try {
    std::ifstream in(state_path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto expected = loaded.metadata.find("state_file_fnv1a64");  // absent in checkpoints of older versions
    if (expected != loaded.metadata.end() &&
        (!expected->is_string() || expected->get<std::string>() != state_checksum(bytes)))
      throw std::runtime_error(state_path.string() + ": checksum mismatch (corrupt file)");
    for (auto& [name, tensor] : parse_tensors(bytes, state_path.string())) saved[name] = std::move(tensor);
    restore_optimizer_state(*optimizer, saved);
    auto cpu_rng = saved.find("cpu_rng");
    if (cpu_rng == saved.end()) throw std::runtime_error("no cpu_rng state");
    set_generator_state(at::detail::getDefaultCPUGenerator(), cpu_rng->second);
    if (torch::cuda::is_available()) {
      for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i) {
        auto cuda_rng = saved.find("cuda_rng." + std::to_string(i));
        if (cuda_rng != saved.end())
          set_generator_state(at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, i)), cuda_rng->second);
      }
    }
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error(
        what.rfind(state_path.string(), 0) == 0 ? what : state_path.string() + ": unreadable training state: " + what);
  }
  return loaded;
}

void remove_checkpoint(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
  remove_state_files(path, "");
}

namespace {
const char* const kEvictingSuffix = ".evicting";
}

void evict_checkpoint(const std::string& path) {
  const fs::path dir = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  std::error_code ec;
  if (fs::exists(path, ec)) {
    fs::rename(path, path + kEvictingSuffix, ec);
    if (ec) throw std::runtime_error(path + ": cannot evict (" + ec.message() + ")");
    sync_directory(dir.string());
  }
  remove_state_files(path, "");
  fs::remove(path + kEvictingSuffix, ec);
}

std::vector<std::string> finish_interrupted_evictions(const std::string& dir) {
  std::vector<std::string> finished;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return finished;
  const std::string suffix = std::string(".pt") + kEvictingSuffix;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      finished.push_back((fs::path(dir) / name.substr(0, name.size() - std::string(kEvictingSuffix).size())).string());
  }
  for (const auto& path : finished) evict_checkpoint(path);
  return finished;
}

bool TrainingState::record_validation(int64_t validated_update, double value, bool maximize) {
  const bool improved = std::isfinite(value) && (!has_best || (maximize ? value > best_metric : value < best_metric));
  if (improved) {
    has_best = true;
    best_metric = value;
    best_update = validated_update;
  }
  validations_without_improvement = improved ? 0 : validations_without_improvement + 1;
  last_validated_update = validated_update;
  return improved;
}

void check_checkpoint_tokenizer(const std::string& path, const std::string& checkpoint_tokenizer_bytes,
                                const std::string& run_tokenizer_bytes) {
  if (run_tokenizer_bytes.empty() || checkpoint_tokenizer_bytes.empty()) return;
  const uint64_t saved = data::tokenizer_checksum(checkpoint_tokenizer_bytes);
  const uint64_t own = data::tokenizer_checksum(run_tokenizer_bytes);
  if (saved != own)
    throw std::runtime_error(path + ": the checkpoint was trained with another tokenizer (" +
                             data::tokenizer_checksum_text(saved) + ") than this run's (" +
                             data::tokenizer_checksum_text(own) + ")");
}

InitFromResult load_init_from(const std::string& path, SummarizationModel& model, torch::optim::Optimizer& optimizer,
                              const std::string& tokenizer_bytes, const InitFromOptions& options) {
  const ModelFileContents contents = read_model_file_contents(path);
  if (!tokenizer_bytes.empty() && contents.tokenizer_bytes != tokenizer_bytes)
    throw std::invalid_argument(path +
                                ": its tokenizer differs from this run's (the token ids would mean other "
                                "pieces; prepare the data with that model's tokenizer)");
  const ModelConfig saved = ModelConfig::from_yaml_string(contents.config_yaml, path);
  // The framing a model was trained (or pretrained) with is what its weights expect to read and write.
  const ModelConfig& run = model->config();
  for (auto [name, theirs, ours] : {std::tuple<const char*, bool, bool>{"source_bos", saved.source_bos, run.source_bos},
                                    {"target_bos", saved.target_bos, run.target_bos}})
    if (theirs != ours)
      throw std::invalid_argument(path + ": model." + name + " is " + (theirs ? "true" : "false") + " there but " +
                                  (ours ? "true" : "false") + " in this run (prepare the data " +
                                  (theirs ? "with" : "without") + " --" + (name[0] == 's' ? "source" : "target") +
                                  "-bos)");
  InitFromResult result;
  result.same_config = saved.to_yaml_string() == model->config().to_yaml_string();
  load_model_weights(*model, contents.weights, path);
  const auto metadata = nlohmann::json::parse(contents.metadata_json, nullptr, false);
  const bool resumable = metadata.is_object() && metadata.contains("state_file") && metadata.contains("training_state");
  if (resumable && !options.reset_optimizer) {
    if (!result.same_config)
      throw std::invalid_argument(path +
                                  ": its model config differs from this run's, so its optimizer state cannot "
                                  "be used: pass --reset-optimizer (weights only)");
    const auto loaded = load_checkpoint(path, model, &optimizer);
    result.optimizer_state = true;
    if (!options.reset_lr_scheduler) result.update = loaded.state.update;
  } else if (!options.reset_lr_scheduler && metadata.is_object() && metadata.contains("training_state")) {
    result.update = TrainingState::from_json(metadata["training_state"]).update;
  }
  return result;
}

}  // namespace pyramidion
