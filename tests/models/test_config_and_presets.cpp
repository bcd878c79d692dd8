// ModelConfig parsing and errors, overrides, presets (each builds and trains a step at a small size), the
// architecture summary and the describe command.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "model_test_support.h"
#include "pyramidion/models/architecture_summary.h"
#include "pyramidion/models/presets.h"
#include "pyramidion/training/training_config.h"
#include "pyramidion/util/yaml_override.h"
#include "test_support.h"

namespace pyramidion {
namespace {

std::string parse_error(const std::string& yaml) {
  try {
    ModelConfig::from_yaml_string(yaml, "x.yaml");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed: " << yaml;
  return "";
}

TEST(ModelConfig, ParsesModelSectionAndIgnoresOtherSections) {
  auto c = ModelConfig::from_yaml_string(
      "training: {lr: 0.1, whatever: [1, 2]}\nmodel:\n  d_model: 64\n  attention_heads: 4\n  chunk_size: 16\n"
      "  pooling: {0: 100, 3: 7}\n  activation: gelu\n  attention_backend: math\n",
      "x.yaml");
  EXPECT_EQ(c.d_model, 64);
  EXPECT_EQ(c.chunk_size, 16);
  EXPECT_EQ(c.pooling.schedule, (std::map<int64_t, int64_t>{{0, 100}, {3, 7}}));
  EXPECT_EQ(c.activation, Activation::gelu);
  EXPECT_EQ(c.attention_backend, AttentionBackend::math);
  EXPECT_EQ(c.dropout, 0.1);  // default
  // to_yaml round trip.
  auto again = ModelConfig::from_yaml_string(c.to_yaml_string(), "again");
  EXPECT_EQ(again.to_yaml_string(), c.to_yaml_string());
}

// BART's framing keys: off by default (today's framing), read and written, and only with a BOS distinct from EOS.
TEST(ModelConfig, BosFramingKeys) {
  const ModelConfig defaults;
  EXPECT_FALSE(defaults.source_bos);
  EXPECT_FALSE(defaults.target_bos);
  EXPECT_EQ(defaults.forced_first_token(), -1);
  auto c = ModelConfig::from_yaml_string("model: {bos_id: 0, pad_id: 1, eos_id: 2, source_bos: true, target_bos: true}",
                                         "x.yaml");
  EXPECT_TRUE(c.source_bos);
  EXPECT_TRUE(c.target_bos);
  EXPECT_EQ(c.forced_first_token(), 0);
  const auto again = ModelConfig::from_yaml_string(c.to_yaml_string(), "again");
  EXPECT_TRUE(again.source_bos && again.target_bos);
  EXPECT_NE(c.to_yaml_string().find("target_bos: true"), std::string::npos);
  EXPECT_NE(parse_error("model: {bos_id: 3, eos_id: 3, source_bos: true}").find("model.source_bos: true needs a BOS"),
            std::string::npos);
  EXPECT_NE(parse_error("model: {target_bos: maybe}").find("model.target_bos"), std::string::npos);
}

TEST(ModelConfig, ErrorsNameTheOriginAndTheField) {
  auto unknown = parse_error("model:\n  d_model: 64\n  d_modle: 3\n");
  EXPECT_NE(unknown.find("x.yaml"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("model.d_modle"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("unknown key"), std::string::npos) << unknown;
  EXPECT_NE(parse_error("model:\n  d_model: big\n").find("model.d_model: expected an integer"), std::string::npos);
  EXPECT_NE(parse_error("model:\n  activation: tanh\n").find("model.activation"), std::string::npos);
  EXPECT_NE(parse_error("model:\n  d_model: 100\n  attention_heads: 3\n").find("attention_heads"), std::string::npos);
  EXPECT_NE(parse_error("model:\n  pooling: {6: 10}\n").find("model.pooling"), std::string::npos);
  EXPECT_NE(parse_error("model:\n  pooling: {0: 0}\n").find("model.pooling"), std::string::npos);
  EXPECT_NE(parse_error("model:\n  vocab_size: 2\n").find("outside the vocabulary"), std::string::npos);
  EXPECT_NE(parse_error("training: {}\n").find("missing 'model:'"), std::string::npos);
  EXPECT_NE(parse_error("model: [1\n").find("invalid YAML"), std::string::npos);
}

TEST(YamlOverride, SetsNestedKeysAndParsesValues) {
  YAML::Node root = YAML::Load("model: {d_model: 64, pooling: {0: 10}}\ntraining: 3\n");
  apply_yaml_override(root, "model.d_model=128");
  apply_yaml_override(root, "model.pooling.1=5");
  apply_yaml_override(root, "training.lr=0.5");  // replaces a scalar by a map
  apply_yaml_override(root, "new.deep.key=[1, 2]");
  EXPECT_EQ(root["model"]["d_model"].as<int>(), 128);
  EXPECT_EQ(root["model"]["pooling"]["0"].as<int>(), 10);
  EXPECT_EQ(root["model"]["pooling"]["1"].as<int>(), 5);
  EXPECT_EQ(root["training"]["lr"].as<double>(), 0.5);
  EXPECT_EQ(root["new"]["deep"]["key"].size(), 2u);
  apply_yaml_override(root, "model.pooling={}");
  EXPECT_EQ(root["model"]["pooling"].size(), 0u);
  EXPECT_THROW(apply_yaml_override(root, "no_equals"), std::invalid_argument);
  EXPECT_THROW(apply_yaml_override(root, "a..b=1"), std::invalid_argument);

  ModelConfig c;
  apply_override(c, "pooling={1: 64}");
  apply_override(c, "model.pooling.3=32");
  apply_override(c, "chunk_size=128");
  EXPECT_EQ(c.pooling.schedule, (std::map<int64_t, int64_t>{{1, 64}, {3, 32}}));
  EXPECT_EQ(c.chunk_size, 128);
  EXPECT_THROW(apply_override(c, "d_modle=3"), std::invalid_argument);
}

std::string testing_temp_yaml(const std::string& text) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("pyramidion_config_" + std::to_string(::getpid()) + ".yaml")).string();
  std::ofstream(path) << text;
  return path;
}

// The nested pooling section and the legacy flat keys describe the same ModelConfig; to_yaml writes the nested form.
TEST(ModelConfig, NestedAndFlatPoolingKeysAreEqual) {
  const auto nested = ModelConfig::from_yaml_string(
      "model:\n  pooling:\n    type: topk\n    schedule: {0: 100, 3: 7}\n    base: 10\n    flip_right: false\n"
      "    sort_back: false\n    hard_at_inference: true\n",
      "nested");
  const auto flat = ModelConfig::from_yaml_string(
      "model:\n  pooling: {0: 100, 3: 7}\n  pooling_base: 10\n  pooling_flip_right: false\n"
      "  pooling_sort_back: false\n  pooling_hard_at_inference: true\n",
      "flat");
  EXPECT_TRUE(nested.pooling == flat.pooling);
  EXPECT_EQ(nested.pooling.schedule, (std::map<int64_t, int64_t>{{0, 100}, {3, 7}}));
  EXPECT_EQ(nested.pooling.base, 10.0);
  EXPECT_FALSE(nested.pooling.sort_back);
  EXPECT_TRUE(nested.pooling.hard_at_inference);
  EXPECT_EQ(flat.to_yaml_string(), nested.to_yaml_string());
  const YAML::Node written = flat.to_yaml()["model"];
  EXPECT_FALSE(written["pooling_base"]) << "flat keys are read, never written";
  EXPECT_EQ(written["pooling"]["schedule"]["3"].as<int>(), 7);
  EXPECT_TRUE(ModelConfig::from_yaml_string(flat.to_yaml_string(), "round trip").pooling == flat.pooling);
}

TEST(ModelConfig, OneSortBackDefault) {
  EXPECT_EQ(ModelConfig{}.pooling.sort_back, kDefaultSortBack);
  EXPECT_EQ(TopKOptions{}.sort_back, kDefaultSortBack);
  EXPECT_EQ(ModelConfig{}.topk_options().sort_back, kDefaultSortBack);
}

TEST(ModelConfig, UnknownPoolingTypeIsOneLineError) {
  const std::string message = parse_error("model:\n  pooling: {type: mean, schedule: {0: 4}}\n");
  EXPECT_NE(message.find("model.pooling.type"), std::string::npos) << message;
  EXPECT_NE(message.find("known: topk"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_NE(parse_error("model:\n  pooling: {schedul: {0: 4}}\n").find("model.pooling.schedul"), std::string::npos);
}

TEST(ModelConfig, NewAndLegacyPoolingOverrides) {
  ModelConfig c = ModelConfig::from_yaml_string("model:\n  encoder_layers: 4\n  pooling: {0: 100}\n", "t");
  apply_override(c, "pooling.schedule.2=50");
  apply_override(c, "pooling.1=70");  // legacy: an integer key under pooling is a schedule entry
  EXPECT_EQ(c.pooling.schedule, (std::map<int64_t, int64_t>{{0, 100}, {1, 70}, {2, 50}}));
  apply_override(c, "pooling.sort_back=false");
  EXPECT_FALSE(c.pooling.sort_back);
  apply_override(c, "pooling_sort_back=true");
  EXPECT_TRUE(c.pooling.sort_back);
  apply_override(c, "pooling.base=5");
  apply_override(c, "pooling={3: 9}");  // legacy: the schedule only, the other settings kept
  EXPECT_EQ(c.pooling.schedule, (std::map<int64_t, int64_t>{{3, 9}}));
  EXPECT_EQ(c.pooling.base, 5.0);
  apply_override(c, "model.pooling={type: topk, schedule: {0: 8}}");
  EXPECT_EQ(c.pooling.schedule, (std::map<int64_t, int64_t>{{0, 8}}));
  EXPECT_THROW(apply_override(c, "pooling.type=mean"), std::invalid_argument);
}

// describe and bench resolve through resolve_run_config like train: the same keys, the same errors.
TEST(RunConfig, ModelOnlyCommandsValidateTrainingKeysToo) {
  const auto run = resolve_run_config("", "tiny-pyramidion",
                                      {"pooling.schedule.0=200", "pooling_sort_back=false", "training.lr=1e-3"}, 0);
  EXPECT_EQ(run.model.pooling.schedule.at(0), 200);
  EXPECT_FALSE(run.model.pooling.sort_back);
  auto message_of = [](const std::vector<std::string>& overrides) {
    try {
      resolve_run_config("", "tiny-pyramidion", overrides, 0);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  // On a legacy file (tiny.yaml-style `pooling: {0: 256}`) a nested override adds to the file's schedule.
  const std::string legacy = testing_temp_yaml("model:\n  encoder_layers: 3\n  pooling: {0: 256}\n  pooling_base: 8\n");
  const auto merged = resolve_run_config(legacy, "", {"pooling.schedule.1=64", "pooling.sort_back=false"}, 0).model;
  EXPECT_EQ(merged.pooling.schedule, (std::map<int64_t, int64_t>{{0, 256}, {1, 64}}));
  EXPECT_FALSE(merged.pooling.sort_back);
  EXPECT_EQ(merged.pooling.base, 8.0);
  EXPECT_EQ(resolve_run_config(legacy, "", {"pooling={2: 9}"}, 0).model.pooling.schedule,
            (std::map<int64_t, int64_t>{{2, 9}}));
  std::remove(legacy.c_str());
  EXPECT_NE(message_of({"training.lrr=1"}).find("training.lrr"), std::string::npos);
  EXPECT_NE(message_of({"d_modle=3"}).find("d_modle"), std::string::npos);
  EXPECT_NE(message_of({"pooling.type=mean"}).find("model.pooling.type"), std::string::npos);
}

// Scale a preset to d 32, 2 heads, source 256 / target 16, pooling widths and chunks shrunk in proportion.
ModelConfig small_version(const std::string& name) {
  ModelConfig preset = load_preset(name);
  const int64_t source = 256;
  auto scale = [&](int64_t v) { return std::max<int64_t>(1, v * source / preset.max_source_positions); };
  std::string pooling = "{";
  for (const auto& [layer, width] : preset.pooling.schedule)
    pooling += std::to_string(layer) + ": " + std::to_string(scale(width)) + ", ";
  pooling += "}";
  return resolve_run_config("", name,
                            {"d_model=32", "attention_heads=2", "ffn_dim=64", "vocab_size=64",
                             "max_source_positions=" + std::to_string(source), "max_target_positions=16",
                             "chunk_size=" + std::to_string(preset.chunk_size ? scale(preset.chunk_size) : 0),
                             "pooling=" + pooling, "training.lr=1e-3"},
                            0)
      .model;
}

TEST(Presets, EveryPresetBuildsAndTrainsOneStep) {
  const auto names = preset_names();
  for (const char* expected : {"vanilla", "blockwise", "transpooler", "pyramidion", "deep-pyramidion", "tiny-vanilla",
                               "tiny-blockwise", "tiny-transpooler", "tiny-pyramidion", "tiny-deep-pyramidion"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    ModelConfig config = small_version(name);
    torch::manual_seed(31);
    SummarizationModel model(config);
    model->train();
    EXPECT_EQ(model->parameter_count(), count_parameters(config));
    auto batch = testing::random_batch({256, 100}, 256, config.vocab_size);
    auto target = torch::randint(4, config.vocab_size, {2, 8}, torch::kLong);
    auto memory = model->encode(batch.tokens, batch.mask);
    EXPECT_EQ(memory.memory_length(), summarize_architecture(config).decoder_memory_length);
    auto logits = model->decode(target, memory);
    auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, config.vocab_size}), target.reshape({-1}));
    loss.backward();
    EXPECT_TRUE(std::isfinite(loss.item<double>()));
    for (const auto& p : model->named_parameters()) ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
}

TEST(ArchitectureSummary, EncoderLengthsFollowEachPresetSchedule) {
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"vanilla", {8192, 8192, 8192, 8192, 8192, 8192}},      {"blockwise", {8192, 8192, 8192, 8192, 8192, 8192}},
      {"transpooler", {8192, 8192, 8192, 8192, 8192, 512}},   {"pyramidion", {1024, 512}},
      {"deep-pyramidion", {4096, 2048, 1024, 512, 512, 512}}, {"tiny-pyramidion", {256, 64}},
      {"tiny-deep-pyramidion", {512, 256, 128, 64}},
  };
  for (const auto& [name, lengths] : expected) {
    auto summary = summarize_architecture(load_preset(name));
    EXPECT_EQ(summary.encoder_lengths(), lengths) << name;
    EXPECT_EQ(summary.decoder_memory_length, lengths.back()) << name;
  }
  // Pooling buys cheaper attention at the same depth.
  auto blockwise = summarize_architecture(load_preset("blockwise"));
  auto deep = summarize_architecture(load_preset("deep-pyramidion"));
  auto vanilla = summarize_architecture(load_preset("vanilla"));
  EXPECT_LT(deep.encoder_self.flops, blockwise.encoder_self.flops);
  EXPECT_LT(blockwise.encoder_self.flops, vanilla.encoder_self.flops);
  EXPECT_LT(deep.decoder_cross.activation_bytes, blockwise.decoder_cross.activation_bytes);
  EXPECT_EQ(blockwise.encoder_layers[0].block_size, 512);
  // A shorter source: widths above the length do nothing.
  auto short_doc = summarize_architecture(load_preset("deep-pyramidion"), {1500, 100, 2});
  EXPECT_EQ(short_doc.encoder_lengths(), (std::vector<int64_t>{1500, 1500, 1024, 512, 512, 512}));
  EXPECT_EQ(short_doc.to_json()["attention_flops"].size(), 3u);
  // Closed form check for one full-attention layer: projections 8 L d^2, products 4 L^2 d.
  ModelConfig one;
  one.encoder_layers = 1;
  one.d_model = 8;
  one.attention_heads = 2;
  auto s = summarize_architecture(one, {10, 1, 4});
  EXPECT_DOUBLE_EQ(s.encoder_self.flops, 8.0 * 10 * 64 + 4.0 * 100 * 8);
  EXPECT_DOUBLE_EQ(s.encoder_self.activation_bytes, (2.0 * 100 + 4.0 * 10 * 8) * 4);
}

std::string run_cli(const std::string& args, int* status) {
  const std::string command = (testing::binary_dir() / "pyramidion").string() + " " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe.get())) out.append(buffer, n);
  *status = pclose(pipe.release());
  return out;
}

TEST(DescribeCommand, JsonOutputAndBadKeys) {
  ASSERT_TRUE(std::filesystem::exists(testing::binary_dir() / "pyramidion"))
      << "the pyramidion program is part of every build";
  int status = 0;
  auto out = run_cli("describe --preset deep-pyramidion --json", &status);
  ASSERT_EQ(status, 0) << out;
  auto json = nlohmann::json::parse(out);
  EXPECT_EQ(json["encoder_lengths"], (std::vector<int64_t>{4096, 2048, 1024, 512, 512, 512}));
  EXPECT_EQ(json["decoder_memory_length"], 512);
  EXPECT_EQ(json["parameters"], count_parameters(load_preset("deep-pyramidion")));
  for (const char* key : {"encoder_self", "decoder_cross", "decoder_self"}) {
    EXPECT_GT(json["attention_flops"][key].get<double>(), 0) << key;
    EXPECT_GT(json["activation_bytes"][key].get<double>(), 0) << key;
  }
  out = run_cli("describe --preset tiny-pyramidion --set d_modle=3", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("'d_modle' is neither a model nor a training key"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

}  // namespace
}  // namespace pyramidion
