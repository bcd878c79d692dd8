#include "pyramidion/training/rank_agreement.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <stdexcept>

namespace pyramidion {
namespace {

std::string emitted(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

}  // namespace

uint64_t fingerprint_of(const std::string& bytes) {
  uint64_t hash = 1469598103934665603ull;
  for (const unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

void check_ranks_agree(GradientReducer& reducer, const Fingerprints& fingerprints) {
  const int64_t world = reducer.world_size();
  if (world <= 1) return;
  // Each hash as four 16-bit chunks c (exact in doubles, as are their squares and sums): per chunk the sum of
  // rank 0's c alone, the sum of c and the sum of c * c. All ranks agree iff (sum c)^2 == N * sum c^2.
  constexpr int kChunks = 4;
  const bool rank0 = reducer.rank() == 0;
  std::vector<double> values;
  values.reserve(fingerprints.size() * kChunks * 3 + 1);
  for (const auto& [what, hash] : fingerprints)
    for (int k = 0; k < kChunks; ++k) {
      const double c = static_cast<double>((hash >> (16 * k)) & 0xffffu);
      values.insert(values.end(), {rank0 ? c : 0.0, c, c * c});
    }
  values.push_back(static_cast<double>(fingerprints.size()));  // the same list length everywhere
  const double own_count = values.back();
  reducer.sum_scalars(values);
  if (values.back() != own_count * static_cast<double>(world))
    throw std::runtime_error(
        fmt::format("rank {} of {}: the ranks run different versions of pyramidion (their "
                    "configs have different keys): use the same build on every rank",
                    reducer.rank(), world));
  std::string differing;
  bool self_differs = false;
  for (size_t i = 0; i < fingerprints.size(); ++i) {
    bool differs = false;
    for (int k = 0; k < kChunks; ++k) {
      const size_t at = (i * kChunks + static_cast<size_t>(k)) * 3;
      const double own = static_cast<double>((fingerprints[i].second >> (16 * k)) & 0xffffu);
      differs = differs || values[at + 1] * values[at + 1] != static_cast<double>(world) * values[at + 2];
      self_differs = self_differs || own != values[at];
    }
    if (differs) differing += (differing.empty() ? "" : ", ") + fingerprints[i].first;
  }
  if (differing.empty()) return;
  throw std::runtime_error(
      fmt::format("rank {} of {}: the ranks disagree on {} ({}): every rank must run the same "
                  "model and training config (only training.device and training.threads may "
                  "differ), tokenizer and data",
                  reducer.rank(), world, differing,
                  reducer.rank() == 0 ? "this is rank 0"
                  : self_differs      ? "this rank differs from rank 0"
                                      : "this rank agrees with rank 0, another differs"));
}

Fingerprints training_fingerprints(const SummarizationModel& model, const TrainingConfig& config,
                                   const std::string& tokenizer_bytes, const data::BinaryDataset& train,
                                   const data::BinaryDataset* valid) {
  Fingerprints out;
  for (const auto& entry : model->config().to_yaml()["model"])
    out.emplace_back("model." + entry.first.as<std::string>(), fingerprint_of(emitted(entry.second)));
  TrainingConfig training = config;
  training.device.clear();
  training.threads = 0;
  for (const auto& entry : training.to_yaml()["training"])
    out.emplace_back("training." + entry.first.as<std::string>(), fingerprint_of(emitted(entry.second)));
  std::string shapes;
  for (const auto& item : model->named_parameters())
    shapes += fmt::format("{}:{}:{};", item.key(), fmt::join(item.value().sizes(), "x"),
                          c10::toString(item.value().scalar_type()));
  out.emplace_back(
      fmt::format("the parameters ({} tensors, {} values)", model->parameters().size(), model->parameter_count()),
      fingerprint_of(shapes));
  out.emplace_back("the tokenizer", fingerprint_of(tokenizer_bytes));
  out.emplace_back("the training data (" + train.path() + ", " + std::to_string(train.size()) + " examples)",
                   fingerprint_of(std::to_string(train.size())));
  out.emplace_back("the validation data", fingerprint_of(valid ? std::to_string(valid->size()) : std::string("none")));
  return out;
}

}  // namespace pyramidion
