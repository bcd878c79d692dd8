#pragma once
// Small synthetic datasets and models for the trainer tests.
#include <torch/torch.h>

#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../data/temp_dir.h"
#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/models/model_config.h"
#include "pyramidion/training/trainer.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion::testing {

inline constexpr int64_t kTinyVocab = 48;

// Examples whose targets copy a few source tokens, so the loss can fall; lengths vary in [min, max].
inline std::shared_ptr<data::BinaryDataset> synthetic_dataset(const std::string& path, int64_t examples, uint32_t seed,
                                                              int64_t min_source = 8, int64_t max_source = 40,
                                                              int64_t min_target = 3, int64_t max_target = 10) {
  std::mt19937 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  {
    data::BinaryDatasetWriter writer(path, kTinyVocab);
    for (int64_t e = 0; e < examples; ++e) {
      std::vector<int64_t> source(static_cast<size_t>(uniform(min_source, max_source)));
      for (auto& t : source) t = uniform(5, kTinyVocab - 1);
      source.back() = 3;  // EOS
      std::vector<int64_t> target(static_cast<size_t>(uniform(min_target, max_target)));
      for (size_t j = 0; j + 1 < target.size(); ++j) target[j] = source[j % (source.size() - 1)];
      target.back() = 3;
      writer.add("doc" + std::to_string(e), source, target);
    }
    writer.finish();
  }
  return std::make_shared<data::BinaryDataset>(path);
}

inline ModelConfig tiny_model_config(double dropout = 0.1) {
  ModelConfig c;
  c.vocab_size = kTinyVocab;
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 32;
  c.encoder_layers = 2;
  c.decoder_layers = 1;
  c.dropout = dropout;
  c.attention_dropout = dropout;
  c.max_source_positions = 64;
  c.max_target_positions = 16;
  c.chunk_size = 8;
  c.pooling.schedule = {{0, 16}};
  return c;
}

inline TrainingConfig tiny_training_config() {
  TrainingConfig t;
  t.max_tokens = 160;
  t.lr = 3e-3;
  t.warmup_updates = 4;
  t.log_interval = 1;
  t.validate_interval = 0;
  t.validate_at_end = false;
  t.valid_subset_size = 0;
  t.device = "cpu";
  t.seed = 7;
  t.threads = 1;  // tiny models: more threads only contend (and the machine may be shared)
  return t;
}

// Trainer options for tests: no progress bar, no log lines.
inline TrainerOptions quiet(const std::string& save_dir = "") {
  TrainerOptions o;
  o.save_dir = save_dir;
  o.progress = false;
  o.log_lines = false;
  return o;
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) records.push_back(nlohmann::json::parse(line));
  return records;
}

// (update, loss) of the "train" records, in file order.
inline std::vector<std::pair<int64_t, double>> train_losses(const std::string& metrics_path) {
  std::vector<std::pair<int64_t, double>> losses;
  for (const auto& r : read_jsonl(metrics_path))
    if (r["kind"] == "train") losses.emplace_back(r["update"].get<int64_t>(), r["loss"].get<double>());
  return losses;
}

}  // namespace pyramidion::testing
