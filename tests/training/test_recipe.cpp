// The training recipe around the loop: cosine schedule, early stopping (training.patience), the N best
// checkpoints (training.keep_best_checkpoints), checkpoint averaging, and starting a run from another's weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "pyramidion/models/model_file.h"
#include "pyramidion/training/checkpoint_averaging.h"
#include "pyramidion/training/checkpoint_policy.h"
#include "pyramidion/training/lr_scheduler.h"
#include "pyramidion/training/trainer.h"
#include "training_test_support.h"

namespace pyramidion {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

using testing::quiet;

TEST(Recipe, CosineScheduleFollowsItsFormula) {
  TrainingConfig config;
  config.lr_scheduler = LrSchedulerKind::cosine;
  config.lr = 1e-3;
  config.end_learning_rate = 1e-5;
  config.warmup_updates = 10;
  config.total_updates = 110;
  config.validate();
  const auto schedule = LrSchedule::from_config(config);
  EXPECT_DOUBLE_EQ(schedule.rate(5), 5e-4);                  // linear warm-up
  EXPECT_DOUBLE_EQ(schedule.rate(10), 1e-3);                 // peak at the end of warm-up
  EXPECT_NEAR(schedule.rate(60), (1e-3 + 1e-5) / 2, 1e-15);  // half-way down the half period
  EXPECT_NEAR(schedule.rate(35), 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + std::cos(M_PI / 4)), 1e-15);
  EXPECT_DOUBLE_EQ(schedule.rate(110), 1e-5);
  EXPECT_DOUBLE_EQ(schedule.rate(1000), 1e-5);  // stays at the end rate
  for (int64_t u = 10; u < 110; ++u) EXPECT_GE(schedule.rate(u), schedule.rate(u + 1)) << u;

  config.total_updates = 10;
  EXPECT_THROW(config.validate(), std::invalid_argument);  // no room after warm-up
  config.total_updates = 110;
  config.end_learning_rate = 2e-3;
  EXPECT_THROW(config.validate(), std::invalid_argument);  // would rise
}

TEST(Recipe, KeepBestRanksValidationsAndEvictsTheWorst) {
  CheckpointPolicyOptions options;
  options.save_dir = "/nonexistent-run";
  options.keep_best = 2;
  options.maximize = true;  // ROUGE
  CheckpointPolicy policy(options);
  std::vector<TrainingState::RankedCheckpoint> kept;
  auto step = [&](int64_t update, double value) {
    const auto writes = policy.after_validation(false, update, value, kept);
    if (writes.ranked_update >= 0) kept = writes.ranked_after;
    return writes;
  };
  EXPECT_EQ(step(1, 0.10).ranked_update, 1);
  EXPECT_EQ(step(2, 0.30).ranked_update, 2);
  auto w = step(3, 0.20);  // better than 0.10: kept, 0.10 evicted
  EXPECT_EQ(w.ranked_update, 3);
  ASSERT_EQ(w.ranked_removed, std::vector<int64_t>{1});
  EXPECT_EQ(step(4, 0.05).ranked_update, -1);  // worse than both
  EXPECT_EQ(step(5, 0.20).ranked_update, -1);  // a tie keeps the earlier one
  EXPECT_EQ(step(6, std::nan("")).ranked_update, -1);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].update, 2);
  EXPECT_EQ(kept[1].update, 3);
  EXPECT_EQ(policy.ranked_best_path(3), "/nonexistent-run/checkpoint_best_u3.pt");

  options.is_writer = false;  // rank > 0 writes nothing
  EXPECT_EQ(CheckpointPolicy(options).after_validation(true, 7, 0.9, {}).ranked_update, -1);
}

TEST(Recipe, TrainingStateKeepsPatienceAndRankingAcrossResume) {
  TrainingState state;
  state.update = 9;
  state.validations_without_improvement = 2;
  state.best_checkpoints = {{6, 0.25}, {3, 0.5}};
  const auto back = TrainingState::from_json(state.to_json());
  EXPECT_EQ(back.validations_without_improvement, 2);
  ASSERT_EQ(back.best_checkpoints.size(), 2u);
  EXPECT_EQ(back.best_checkpoints[0].update, 6);
  EXPECT_DOUBLE_EQ(back.best_checkpoints[1].metric, 0.5);
  auto json = state.to_json();
  json.erase("best_checkpoints");  // older checkpoints
  json.erase("validations_without_improvement");
  EXPECT_TRUE(TrainingState::from_json(json).best_checkpoints.empty());
  json = state.to_json();
  json["best_checkpoints"][0]["update"] = 99;  // beyond the state's update
  EXPECT_THROW(TrainingState::from_json(json), std::runtime_error);
}

// A run validated every update with the N best kept and early stopping; the files, the ranking and the stop
// must follow what metrics.jsonl records.
TEST(Recipe, PatienceStopsAndTheBestCheckpointsAreTheBestValidations) {
  TempDir dir;
  auto train = testing::synthetic_dataset(dir.file("train.bin"), 16, 5);
  auto valid = testing::synthetic_dataset(dir.file("valid.bin"), 6, 6);
  auto config = testing::tiny_training_config();
  config.lr = 0.05;  // too high on purpose: the validation loss soon stops improving
  config.lr_scheduler = LrSchedulerKind::constant;
  config.warmup_updates = 0;
  config.clip_norm = 0;
  config.max_updates = 40;
  config.validate_interval = 1;
  config.keep_best_checkpoints = 3;
  config.patience = 3;
  const std::string save = dir.file("run");
  Trainer trainer(testing::tiny_model_config(0.0), config, train, valid, "", quiet(save));
  const auto summary = trainer.run();

  std::vector<std::pair<int64_t, double>> losses;
  for (const auto& r : testing::read_jsonl(save + "/metrics.jsonl"))
    if (r["kind"] == "valid") losses.emplace_back(r["update"].get<int64_t>(), r["loss"].get<double>());
  ASSERT_FALSE(losses.empty());
  // Where patience 3 must stop: three validations in a row without a new minimum.
  int64_t expected_stop = -1, since_best = 0;
  double best = INFINITY;
  for (const auto& [update, loss] : losses) {
    since_best = loss < best ? 0 : since_best + 1;
    best = std::min(best, loss);
    if (since_best >= 3) {
      expected_stop = update;
      break;
    }
  }
  ASSERT_GT(expected_stop, 0) << "the run never ran out of patience; raise lr";
  EXPECT_EQ(summary.stop_reason, "patience");
  EXPECT_EQ(summary.update, expected_stop);
  EXPECT_EQ(losses.back().first, expected_stop);

  // The kept files are the 3 lowest validation losses, ranked best first in checkpoint_last.pt.
  auto sorted = losses;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  const auto ranked = best_ranked_checkpoints(save, 3);
  ASSERT_EQ(ranked.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(fs::path(ranked[i]).filename().string(), "checkpoint_best_u" + std::to_string(sorted[i].first) + ".pt");
  int64_t files = 0;
  for (const auto& entry : fs::directory_iterator(save))
    files += entry.path().filename().string().rfind("checkpoint_best_u", 0) == 0;
  EXPECT_EQ(files, 3);
  EXPECT_THROW(best_ranked_checkpoints(save, 4), std::invalid_argument);

  // The average of the three is their element-wise mean (float64, then rounded once).
  const std::string averaged = dir.file("average.pt");
  const auto result = average_checkpoints(ranked, averaged);
  EXPECT_EQ(result.inputs.size(), 3u);
  auto a = load_model_file(ranked[0]), b = load_model_file(ranked[1]), c = load_model_file(ranked[2]);
  auto mean = load_model_file(averaged);
  const auto pa = a.model->named_parameters(), pb = b.model->named_parameters(), pc = c.model->named_parameters();
  int64_t differing = 0;
  for (const auto& item : mean.model->named_parameters()) {
    const auto expected = ((pa[item.key()].to(torch::kFloat64) + pb[item.key()].to(torch::kFloat64) +
                            pc[item.key()].to(torch::kFloat64)) /
                           3.0)
                              .to(torch::kFloat32);
    EXPECT_TRUE(torch::equal(item.value(), expected)) << item.key();
    differing += !torch::equal(item.value(), pa[item.key()]);
  }
  EXPECT_GT(differing, 0);
  EXPECT_EQ(mean.metadata["kind"], "average");
  EXPECT_EQ(mean.metadata["averaged"].size(), 3u);
  EXPECT_THROW(average_checkpoints({ranked[0], averaged}, averaged), std::invalid_argument);  // output is an input
}

TEST(Recipe, AveragingRefusesOtherArchitectures) {
  TempDir dir;
  torch::manual_seed(1);
  SummarizationModel small(testing::tiny_model_config());
  auto wider_config = testing::tiny_model_config();
  wider_config.ffn_dim = 48;
  SummarizationModel wider(wider_config);
  save_model_file(dir.file("a.pt"), small, "tok");
  save_model_file(dir.file("b.pt"), wider, "tok");
  save_model_file(dir.file("c.pt"), small, "other tokenizer");
  try {
    average_checkpoints({dir.file("a.pt"), dir.file("b.pt")}, dir.file("out.pt"));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("b.pt: its model config differs"), std::string::npos) << e.what();
  }
  EXPECT_THROW(average_checkpoints({dir.file("a.pt"), dir.file("c.pt")}, dir.file("out.pt")), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir.file("out.pt")));
  // One file averaged with itself is itself.
  average_checkpoints({dir.file("a.pt"), dir.file("a.pt")}, dir.file("same.pt"));
  auto same = load_model_file(dir.file("same.pt"));
  for (const auto& item : small->named_parameters())
    EXPECT_TRUE(torch::equal(same.model->named_parameters()[item.key()], item.value())) << item.key();
}

TEST(Recipe, InitFromTakesWeightsOptimizerAndCountUnlessReset) {
  TempDir dir;
  auto train = testing::synthetic_dataset(dir.file("train.bin"), 16, 5);
  auto config = testing::tiny_training_config();
  config.max_updates = 5;
  const std::string first_dir = dir.file("first");
  Trainer first(testing::tiny_model_config(), config, train, nullptr, "", quiet(first_dir));
  first.run();
  const std::string last = first_dir + "/checkpoint_last.pt";
  ASSERT_TRUE(fs::exists(last));

  auto expect_weights_of_first = [&](Trainer& t) {
    for (const auto& item : first.model()->named_parameters())
      EXPECT_TRUE(torch::equal(t.model()->named_parameters()[item.key()], item.value())) << item.key();
  };
  config.max_updates = 8;
  {
    Trainer second(testing::tiny_model_config(), config, train, nullptr, "", quiet());
    second.init_from(last);
    expect_weights_of_first(second);
    EXPECT_EQ(second.update(), 5);       // the schedule continues
    EXPECT_EQ(second.state().epoch, 1);  // a fresh data order
    EXPECT_EQ(second.state().batch_in_epoch, 0);
    EXPECT_DOUBLE_EQ(second.learning_rate(), first.learning_rate());
    EXPECT_EQ(second.run().update, 8);
  }
  {
    Trainer third(testing::tiny_model_config(), config, train, nullptr, "", quiet());
    third.init_from(last, {true, true});
    expect_weights_of_first(third);
    EXPECT_EQ(third.update(), 0);
  }
  {
    // Another architecture of the same shapes: weights only, so the optimizer must be reset explicitly.
    auto other = testing::tiny_model_config();
    other.pooling.schedule = {{0, 8}};
    Trainer fourth(other, config, train, nullptr, "", quiet());
    EXPECT_THROW(fourth.init_from(last), std::invalid_argument);
    fourth.init_from(last, {true, false});
    expect_weights_of_first(fourth);
  }
  {
    auto other = testing::tiny_model_config();
    other.d_model = 32;  // other shapes
    Trainer fifth(other, config, train, nullptr, "", quiet());
    EXPECT_THROW(fifth.init_from(last, {true, true}), std::exception);
  }
}

}  // namespace
}  // namespace pyramidion
