#include <gtest/gtest.h>

#include "../data/temp_dir.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TrainingConfig, DefaultsAndRoundTrip) {
  const auto config = TrainingConfig::from_yaml(YAML::Load("model: {}"), "x.yaml");
  EXPECT_DOUBLE_EQ(config.lr, 5e-4);
  EXPECT_EQ(config.warmup_updates, 5000);
  EXPECT_EQ(config.lr_scheduler, LrSchedulerKind::inverse_sqrt);
  EXPECT_DOUBLE_EQ(config.label_smoothing, 0.1);
  EXPECT_EQ(config.adam_betas, (std::vector<double>{0.9, 0.98}));
  TrainingConfig changed;
  changed.lr = 1e-3;
  changed.lr_scheduler = LrSchedulerKind::polynomial_decay;
  changed.adam_betas = {0.8, 0.99};
  changed.best_checkpoint_metric = ValidationMetric::rougeLsum;
  changed.valid_search.beam = 3;
  const auto again = TrainingConfig::from_yaml(changed.to_yaml(), "round trip");
  EXPECT_DOUBLE_EQ(again.lr, 1e-3);
  EXPECT_EQ(again.lr_scheduler, LrSchedulerKind::polynomial_decay);
  EXPECT_EQ(again.adam_betas, changed.adam_betas);
  EXPECT_EQ(again.best_checkpoint_metric, ValidationMetric::rougeLsum);
  EXPECT_EQ(again.valid_search.beam, 3);
  EXPECT_EQ(TrainingConfig::keys().size(), changed.to_yaml()["training"].size());
}

TEST(TrainingConfig, ErrorsNameTheFileAndKey) {
  EXPECT_EQ(error_of([] { TrainingConfig::from_yaml(YAML::Load("training: {lr_sheduler: constant}"), "run.yaml"); }),
            "run.yaml: training.lr_sheduler: unknown key (see docs/training.md for the training keys)");
  EXPECT_EQ(error_of([] { TrainingConfig::from_yaml(YAML::Load("training: {max_tokens: lots}"), "run.yaml"); }),
            "run.yaml: training.max_tokens: expected an integer, got 'lots'");
  EXPECT_EQ(error_of([] { TrainingConfig::from_yaml(YAML::Load("training: {amp: fp8}"), "run.yaml"); }),
            "run.yaml: training.amp: 'fp8' is not one of none, bf16, fp16");
  EXPECT_EQ(error_of([] { TrainingConfig::from_yaml(YAML::Load("training: {label_smoothing: 1.5}"), "run.yaml"); }),
            "run.yaml: training.label_smoothing: must be in [0, 1)");
  EXPECT_EQ(error_of([] { TrainingConfig::from_yaml(YAML::Load("training: {valid_max_len_b: -5}"), "run.yaml"); }),
            "run.yaml: training.valid_max_len_b: must be >= 0 (got -5)");
  EXPECT_EQ(error_of([] {
              TrainingConfig::from_yaml(YAML::Load("training: {valid_max_len_a: -0.5}"), "run.yaml");
            }).rfind("run.yaml: training.valid_max_len_a: must be >= 0", 0),
            0u);
  EXPECT_EQ(error_of([] { TrainingConfig::from_yaml(YAML::Load("training: {pooling_sharpening: -1}"), "run.yaml"); }),
            "run.yaml: training.pooling_sharpening: must be >= 0 (0 = off)");
  EXPECT_DOUBLE_EQ(
      TrainingConfig::from_yaml(YAML::Load("training: {pooling_sharpening: 0.5}"), "run.yaml").pooling_sharpening, 0.5);
  EXPECT_EQ(error_of([] { TrainingConfig::from_yaml(YAML::Load("training: {adam_betas: [0.9]}"), "run.yaml"); }),
            "run.yaml: training.adam_betas: expected a list of two numbers, got a list");
}

TEST(TrainingConfig, ResolveAppliesOverridesToBothSections) {
  testing::TempDir dir;
  const auto path = dir.write("run.yaml",
                              "model:\n  d_model: 32\n  attention_heads: 2\n  ffn_dim: 64\n"
                              "training:\n  lr: 1.0e-4\n  max_updates: 10\n");
  const auto run =
      resolve_run_config(path, "", {"d_model=64", "training.lr=1e-3", "max_updates=20", "model.ffn_dim=128"}, 1000);
  EXPECT_EQ(run.model.d_model, 64);
  EXPECT_EQ(run.model.ffn_dim, 128);
  EXPECT_EQ(run.model.vocab_size, 1000);  // from the tokenizer
  EXPECT_DOUBLE_EQ(run.training.lr, 1e-3);
  EXPECT_EQ(run.training.max_updates, 20);
  const auto echoed = YAML::Load(run.to_yaml_string());
  EXPECT_EQ(echoed["model"]["d_model"].as<int>(), 64);
  EXPECT_EQ(echoed["training"]["max_updates"].as<int>(), 20);

  EXPECT_NE(error_of([&] { resolve_run_config(path, "", {"training.lrr=1"}, 0); }).find("training.lrr: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of([&] { resolve_run_config(path, "", {"bogus=1"}, 0); }).find("neither a model nor a training key"),
            std::string::npos);
  EXPECT_NE(error_of([&] { resolve_run_config(dir.file("none.yaml"), "", {}, 0); }).find("no such file"),
            std::string::npos);
  EXPECT_NE(error_of([&] { resolve_run_config(path, "tiny-pyramidion", {}, 0); }).find("either"), std::string::npos);
  const auto preset = resolve_run_config("", "tiny-pyramidion", {"training.warmup_updates=7"}, 500);
  EXPECT_EQ(preset.model.chunk_size, 128);
  EXPECT_EQ(preset.training.warmup_updates, 7);
}

TEST(TrainingConfig, CurriculumParsesRoundTripsAndNamesBadKeys) {
  const auto config = TrainingConfig::from_yaml(YAML::Load(R"(
training:
  curriculum:
    unit: epochs
    overlong: skip
    stages:
      - {until: 2, max_source_length: 16, max_tokens: 80}
      - {until: 5, max_source_length: 32, max_target_length: 8}
      - {}
)"),
                                                "run.yaml");
  ASSERT_EQ(config.curriculum.stages.size(), 3u);
  EXPECT_EQ(config.curriculum.unit, CurriculumUnit::epochs);
  EXPECT_EQ(config.curriculum.overlong, OverlongExamples::skip);
  EXPECT_EQ(config.curriculum.stages[0].until, 2);
  EXPECT_EQ(config.curriculum.stages[0].max_source_length, 16);
  EXPECT_EQ(config.curriculum.stages[0].max_tokens, 80);
  EXPECT_EQ(config.curriculum.stages[1].max_target_length, 8);
  EXPECT_EQ(config.curriculum.stages[2].max_source_length, 0);
  const auto again = TrainingConfig::from_yaml(config.to_yaml(), "round trip");
  ASSERT_EQ(again.curriculum.stages.size(), 3u);
  EXPECT_EQ(again.curriculum.stages[1].until, 5);
  EXPECT_EQ(again.curriculum.unit, CurriculumUnit::epochs);
  EXPECT_FALSE(TrainingConfig::from_yaml(YAML::Load("model: {}"), "x").curriculum.enabled());  // off by default

  auto error = [](const std::string& yaml) {
    return error_of([&] { TrainingConfig::from_yaml(YAML::Load(yaml), "run.yaml"); });
  };
  EXPECT_EQ(error("training: {curriculum: {stages: [{until: 5, max_len: 3}, {}]}}"),
            "run.yaml: training.curriculum.stages.0.max_len: unknown key (see docs/training.md, Length curriculum)");
  EXPECT_EQ(error("training: {curriculum: {unit: steps, stages: [{}]}}"),
            "run.yaml: training.curriculum.unit: 'steps' is not one of updates, epochs");
  EXPECT_EQ(error("training: {curriculum: {stages: {until: 3}}}"),
            "run.yaml: training.curriculum.stages: expected a list of stages, got a map");
  EXPECT_EQ(error("training: {curriculum: {stages: [{until: 10}, {until: 10}, {}]}}"),
            "run.yaml: training.curriculum.stages.1.until: must be greater than stage 0's (10)");
  EXPECT_EQ(error("training: {curriculum: {stages: [{until: 10}, {until: 20}]}}"),
            "run.yaml: training.curriculum.stages.1.until: the last stage lasts until training ends (max_updates / "
            "max_epochs); leave `until` out");
  EXPECT_EQ(error("training: {curriculum: {stages: [{max_source_length: 8}, {}]}}"),
            "run.yaml: training.curriculum.stages.0.until: must be >= 1 (the stage's last update; only the last "
            "stage leaves it out)");
  EXPECT_EQ(error("training: {curriculum: {stages: [{until: 3, max_tokens: -1}, {}]}}"),
            "run.yaml: training.curriculum.stages.0.max_tokens: must be >= 0 (0 = training.max_tokens)");
  EXPECT_EQ(error("training: {curriculum: {stages: [{until: x}]}}"),
            "run.yaml: training.curriculum.stages.0.until: expected an integer, got 'x'");
}

TEST(Curriculum, StageOfAnUpdateOrEpochAndTheStageLengths) {
  CurriculumConfig config;
  config.stages = {{3, 10, 0, 0}, {7, 20, 4, 0}, {0, 0, 0, 0}};
  const Curriculum by_update(config);
  EXPECT_EQ(by_update.stage_at(0, 1, 0), 0);
  EXPECT_EQ(by_update.stage_at(2, 9, 0), 0);  // updates 1..3
  EXPECT_EQ(by_update.stage_at(3, 1, 0), 1);  // updates 4..7
  EXPECT_EQ(by_update.stage_at(6, 1, 0), 1);
  EXPECT_EQ(by_update.stage_at(7, 1, 0), 2);
  EXPECT_EQ(by_update.stage_at(1000, 1, 0), 2);
  config.unit = CurriculumUnit::epochs;
  const Curriculum by_epoch(config);
  EXPECT_EQ(by_epoch.stage_at(100, 3, 0), 0);  // epochs 1..3
  EXPECT_EQ(by_epoch.stage_at(0, 4, 0), 1);
  EXPECT_EQ(by_epoch.stage_at(0, 8, 0), 2);
  EXPECT_EQ(Curriculum().stage_at(100, 100, 0), 0);

  const std::vector<int64_t> source = {5, 15, 25}, target = {2, 3, 6};
  const auto cut = by_update.examples(1, source, target);  // truncate to source 20, target 4
  EXPECT_EQ(cut.source_lengths, (std::vector<int64_t>{5, 15, 20}));
  EXPECT_EQ(cut.target_lengths, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(cut.kept, (std::vector<int64_t>{0, 1, 2}));
  config.overlong = OverlongExamples::skip;
  const auto skipped = Curriculum(config).examples(1, source, target);
  EXPECT_EQ(skipped.kept, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(Curriculum(config).examples(2, source, target).kept.size(), 3u);  // 0 = no limit
}

}  // namespace
}  // namespace pyramidion
