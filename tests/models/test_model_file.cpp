// Model file: round trip, and clean one-line errors for foreign, truncated, corrupt or mismatched files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "../data/temp_dir.h"
#include "model_test_support.h"
#include "pyramidion/models/model_file.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;
using testing::float64_model;
using testing::random_batch;
using testing::tiny_config;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The error message of loading `path`; fails the test when loading succeeds.
std::string load_error(const fs::path& path) {
  try {
    load_model_file(path.string());
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "loading " << path << " succeeded";
  return "";
}

void expect_error(const fs::path& path, const std::string& fragment) {
  const std::string message = load_error(path);
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find(fragment), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(ModelFile, RoundTripReproducesOutputsExactly) {
  testing::TempDir dir;
  auto config = tiny_config();
  config.vocab_size = 50;
  torch::manual_seed(21);
  SummarizationModel model(config);
  model->eval();
  const std::string tokenizer("\x00spm-bytes\xff\x01", 12);
  const auto file = dir.path() / "model.pyr";
  save_model_file(file.string(), model, tokenizer, {{"step", 1234}});
  EXPECT_FALSE(fs::exists(file.string() + ".tmp." + std::to_string(::getpid())));
  LoadedModel loaded = load_model_file(file.string());
  EXPECT_EQ(loaded.tokenizer_bytes, tokenizer);
  EXPECT_EQ(loaded.metadata["step"], 1234);
  EXPECT_EQ(loaded.config.to_yaml_string(), config.to_yaml_string());
  EXPECT_FALSE(loaded.model->is_training());
  auto batch = random_batch({25, 9}, 25, 50);
  auto target = torch::randint(4, 50, {2, 6}, torch::kLong);
  EXPECT_TRUE(torch::equal(model->forward(batch.tokens, batch.mask, target),
                           loaded.model->forward(batch.tokens, batch.mask, target)));
  // Saving without metadata gives null metadata.
  save_model_file(file.string(), model, tokenizer);
  EXPECT_TRUE(load_model_file(file.string()).metadata.is_null());
}

// Model files written before the nested pooling section store the schedule as `pooling:` and flat pooling_* keys;
// they load to the same config and the same weights (the pooler's weight names did not change).
TEST(ModelFile, OldFlatPoolingKeysStillLoad) {
  testing::TempDir dir;
  auto config = tiny_config();
  config.vocab_size = 50;
  config.pooling.base = 12.0;
  config.pooling.sort_back = false;
  torch::manual_seed(22);
  SummarizationModel model(config);
  model->eval();
  const auto file = dir.path() / "old.pyr";
  save_model_file(file.string(), model, "spm");
  ModelFileContents contents = read_model_file_contents(file.string());
  YAML::Node document = YAML::Load(contents.config_yaml);
  YAML::Node flat(YAML::NodeType::Map);
  for (const auto& item : document["model"]) {
    const std::string key = item.first.as<std::string>();
    if (key != "pooling") {
      flat[key] = item.second;
      continue;
    }
    flat["pooling"] = item.second["schedule"];
    flat["pooling_base"] = item.second["base"];
    flat["pooling_flip_right"] = item.second["flip_right"];
    flat["pooling_sort_back"] = item.second["sort_back"];
    flat["pooling_hard_at_inference"] = item.second["hard_at_inference"];
  }
  YAML::Node old_document(YAML::NodeType::Map);
  old_document["model"] = flat;
  YAML::Emitter out;
  out << old_document;
  contents.config_yaml = out.c_str();
  ASSERT_EQ(contents.config_yaml.find("schedule"), std::string::npos);
  write_model_file_contents(file.string(), contents);
  LoadedModel loaded = load_model_file(file.string());
  EXPECT_TRUE(loaded.config.pooling == config.pooling);
  EXPECT_EQ(loaded.config.to_yaml_string(), config.to_yaml_string());
  bool has_scorer = false;
  for (const auto& item : loaded.model->named_parameters())
    has_scorer = has_scorer || item.key() == "pooler_after_layer_0.scorer.weight";
  EXPECT_TRUE(has_scorer) << "weight names of the topk pooler";
  auto batch = random_batch({25, 9}, 25, 50);
  auto target = torch::randint(4, 50, {2, 6}, torch::kLong);
  EXPECT_TRUE(torch::equal(model->forward(batch.tokens, batch.mask, target),
                           loaded.model->forward(batch.tokens, batch.mask, target)));
}

// Model files written before copy attention have no copy_attention / alignment_* keys: they load with copy off and
// give the same outputs; a copy-attention model round-trips with its gate and the same log-probabilities.
TEST(ModelFile, FilesWithoutTheCopyKeysLoadAndCopyModelsRoundTrip) {
  testing::TempDir dir;
  for (bool copy : {false, true}) {
    auto config = tiny_config();
    config.vocab_size = 50;
    config.copy_attention = copy;
    torch::manual_seed(23);
    SummarizationModel model(config);
    model->eval();
    const auto file = dir.path() / (copy ? "copy.pyr" : "before-copy.pyr");
    save_model_file(file.string(), model, "spm");
    if (!copy) {  // as written before the keys existed
      ModelFileContents contents = read_model_file_contents(file.string());
      YAML::Node document = YAML::Load(contents.config_yaml);
      for (const char* key : {"copy_attention", "alignment_layer", "alignment_heads"}) document["model"].remove(key);
      YAML::Emitter out;
      out << document;
      contents.config_yaml = out.c_str();
      ASSERT_EQ(contents.config_yaml.find("alignment"), std::string::npos);
      write_model_file_contents(file.string(), contents);
    }
    LoadedModel loaded = load_model_file(file.string());
    EXPECT_EQ(loaded.config.copy_attention, copy);
    EXPECT_EQ(loaded.model->named_parameters().contains("copy_gate.weight"), copy);
    auto batch = random_batch({25, 9}, 25, 50);
    auto target = torch::randint(4, 50, {2, 6}, torch::kLong);
    EXPECT_TRUE(torch::equal(model->forward(batch.tokens, batch.mask, target),
                             loaded.model->forward(batch.tokens, batch.mask, target)));
  }
}

TEST(ModelFile, BadFilesFailWithOneLineErrors) {
  testing::TempDir dir;
  auto config = tiny_config();
  torch::manual_seed(22);
  SummarizationModel model(config);
  const auto good = dir.path() / "good.pyr";
  save_model_file(good.string(), model, "tok");
  const std::string bytes = read_bytes(good);
  const auto bad = dir.path() / "bad.pyr";

  write_bytes(bad, "PK\x03\x04 this is a zip file, not a model");
  expect_error(bad, "not a pyramidion model file");

  std::string other_version = bytes;
  other_version[8] = 7;
  write_bytes(bad, other_version);
  expect_error(bad, "format version 7");

  for (size_t cut : {size_t{3}, size_t{10}, size_t{30}, bytes.size() / 2, bytes.size() - 1}) {
    SCOPED_TRACE("truncated to " + std::to_string(cut));
    write_bytes(bad, bytes.substr(0, cut));
    expect_error(bad, "truncated");
  }

  for (size_t at : {size_t{40}, bytes.size() / 2, bytes.size() - 3}) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    write_bytes(bad, flipped);
    expect_error(bad, "checksum");
  }

  write_bytes(bad, bytes + "xx");
  expect_error(bad, "unexpected bytes");

  expect_error(dir.path() / "missing.pyr", "cannot open");
}

TEST(ModelFile, WeightsThatDoNotMatchTheConfigAreNamed) {
  testing::TempDir dir;
  auto config = tiny_config();
  torch::manual_seed(23);
  SummarizationModel model(config);
  const auto file = dir.path() / "model.pyr";
  save_model_file(file.string(), model, "tok");
  ModelFileContents contents = read_model_file_contents(file.string());

  auto smaller = config;
  smaller.vocab_size = 30;
  contents.config_yaml = smaller.to_yaml_string();
  write_model_file_contents(file.string(), contents);
  expect_error(file, "vocabulary size mismatch");
  expect_error(file, "embed_tokens.weight");

  auto deeper = config;
  deeper.decoder_layers = 3;
  contents.config_yaml = deeper.to_yaml_string();
  write_model_file_contents(file.string(), contents);
  expect_error(file, "weights do not match the config");

  contents.config_yaml = "model:\n  d_modle: 3\n";
  write_model_file_contents(file.string(), contents);
  expect_error(file, "model.d_modle");
}

TEST(ModelFile, CheckVocabulary) {
  auto config = tiny_config();
  EXPECT_NO_THROW(check_vocabulary(config, config.vocab_size, "tok.model"));
  try {
    check_vocabulary(config, 77, "tok.model");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("tok.model"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("77"), std::string::npos);
  }
}

}  // namespace
}  // namespace pyramidion
