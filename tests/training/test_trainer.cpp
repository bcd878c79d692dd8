#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "pyramidion/data/tokenizer.h"
#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/models/eval_mode_scope.h"
#include "pyramidion/models/model_file.h"
#include "pyramidion/training/stop_signal.h"
#include "pyramidion/training/trainer.h"
#include "training_test_support.h"

namespace pyramidion {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

using testing::quiet;

SummarizationModel seeded(const ModelConfig& config, uint64_t seed) {
  torch::manual_seed(seed);
  return SummarizationModel(config);
}

// Bitwise comparison of two models' parameters.
bool same_parameters(SummarizationModel& a, SummarizationModel& b) {
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa)
    if (!torch::equal(item.value(), pb[item.key()])) return false;
  return true;
}

TEST(Trainer, GradientAccumulationMatchesOneFullBatch) {
  TempDir dir;
  // Equal lengths: two half batches hold exactly the examples of one full batch, without extra padding.
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 4, 1, 20, 20, 6, 6);
  const auto model_config = testing::tiny_model_config(/*dropout=*/0.0);
  auto config = testing::tiny_training_config();
  config.clip_norm = 0;
  config.max_tokens = 4 * 26;
  auto full_model = seeded(model_config, 5);
  full_model->to(torch::kFloat64);
  Trainer full(full_model, config, data, nullptr, "", quiet());
  config.max_tokens = 2 * 26;
  config.update_freq = 2;
  auto half_model = seeded(model_config, 5);
  half_model->to(torch::kFloat64);
  Trainer accumulated(half_model, config, data, nullptr, "", quiet());
  ASSERT_EQ(full.epoch_batches(1).size(), 1u);
  ASSERT_EQ(accumulated.epoch_batches(1).size(), 2u);

  for (int step = 0; step < 2; ++step) {
    const auto a = full.run_for(1, 0);
    const auto b = accumulated.run_for(1, 0);
    EXPECT_NEAR(a.last_loss, b.last_loss, 1e-12);
  }
  double max_difference = 0;
  const auto pb = half_model->named_parameters();
  for (const auto& item : full_model->named_parameters())
    max_difference = std::max(max_difference, (item.value() - pb[item.key()]).abs().max().item<double>());
  EXPECT_LT(max_difference, 1e-9);
  auto initial = seeded(model_config, 5);
  initial->to(torch::kFloat64);
  EXPECT_FALSE(same_parameters(full_model, initial));  // training did move the weights
}

TEST(Trainer, NonFiniteUpdatesAreSkippedCountedAndStopTraining) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 12, 2);
  auto config = testing::tiny_training_config();
  config.max_nonfinite_updates = 3;
  {
    Trainer trainer(testing::tiny_model_config(), config, data, nullptr, "", quiet());
    int calls = 0;
    trainer.set_auxiliary_loss([&](const EncoderOutput& encoded, const Batch&) {
      ++calls;
      EXPECT_FALSE(encoded.pooling.empty());  // the scorer outputs reach the hook
      return torch::tensor(calls == 2 ? std::nan("") : 0.0);
    });
    const auto before = trainer.model()->parameters()[0].clone();
    trainer.run_for(1, 0);
    const auto after_first = trainer.model()->parameters()[0].clone();
    EXPECT_FALSE(torch::equal(before, after_first));
    const auto summary = trainer.run_for(2, 0);  // the NaN update is skipped, the next one applies
    EXPECT_EQ(trainer.update(), 3);
    EXPECT_EQ(summary.updates, 2);
    EXPECT_EQ(trainer.state().skipped_updates, 1);
    EXPECT_EQ(trainer.state().nonfinite_in_a_row, 0);
  }
  Trainer trainer(testing::tiny_model_config(), config, data, nullptr, "", quiet());
  trainer.set_auxiliary_loss([](const EncoderOutput&, const Batch&) { return torch::tensor(INFINITY); });
  const auto before = trainer.model()->parameters()[0].clone();
  const auto summary = trainer.run_for(100, 0);
  EXPECT_EQ(summary.stop_reason, "nonfinite");
  EXPECT_EQ(trainer.update(), 0);
  EXPECT_EQ(trainer.state().skipped_updates, 3);
  EXPECT_TRUE(torch::equal(before, trainer.model()->parameters()[0]));
}

// training.pooling_sharpening: the same run with and without it; the slot entropy that validation reports falls
// further with it (the auxiliary loss reaches the scorers), and without copy attention the key is refused.
TEST(Trainer, PoolingSharpeningLowersTheSlotEntropy) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 16, 4, 24, 40);  // every source is pooled (width 16)
  auto model_config = testing::tiny_model_config(/*dropout=*/0.0);
  model_config.copy_attention = true;
  auto entropy_after = [&](double sharpening) {
    auto config = testing::tiny_training_config();
    config.pooling_sharpening = sharpening;
    Trainer trainer(seeded(model_config, 3), config, data, data, "", quiet());
    const double before = trainer.validate().provenance_entropy.value();
    trainer.run_for(30, 0);
    return std::make_pair(before, trainer.validate().provenance_entropy.value());
  };
  const auto [plain_before, plain_after] = entropy_after(0.0);
  const auto [sharp_before, sharp_after] = entropy_after(1.0);
  EXPECT_EQ(plain_before, sharp_before);  // same model, same data
  EXPECT_GT(plain_before, 0.1);           // the untrained scorers blur the slots
  EXPECT_LT(sharp_after, 0.5 * plain_after);

  auto config = testing::tiny_training_config();
  config.pooling_sharpening = 1.0;
  try {
    Trainer refused(testing::tiny_model_config(), config, data, nullptr, "", quiet());
    ADD_FAILURE() << "pooling_sharpening without copy_attention was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("training.pooling_sharpening: needs model.copy_attention"), std::string::npos);
  }
}

TEST(Trainer, ResumeContinuesBitIdentically) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 14, 3);
  const auto model_config = testing::tiny_model_config(/*dropout=*/0.2);  // dropout: the RNG state matters
  auto config = testing::tiny_training_config();
  config.update_freq = 2;
  config.log_interval = 2;
  const std::string straight_dir = dir.file("straight"), resumed_dir = dir.file("resumed");

  Trainer straight(model_config, config, data, nullptr, "", quiet(straight_dir));
  straight.run_for(9, 0);  // spans several epochs (about 3 batches each)
  ASSERT_GT(straight.epoch(), 2);
  {
    Trainer first(model_config, config, data, nullptr, "", quiet(resumed_dir));
    first.run_for(5, 0);  // stops mid log interval and mid epoch
    first.save_checkpoint(resumed_dir + "/checkpoint_last.pt");
  }
  torch::randn({100});  // disturb the global generator: resume must restore it
  Trainer second(model_config, config, data, nullptr, "", quiet(resumed_dir));
  second.load_checkpoint(resumed_dir + "/checkpoint_last.pt");
  EXPECT_EQ(second.update(), 5);
  second.run_for(4, 0);

  const auto expected = testing::train_losses(straight_dir + "/metrics.jsonl");
  const auto actual = testing::train_losses(resumed_dir + "/metrics.jsonl");
  ASSERT_EQ(expected.size(), 4u);
  EXPECT_EQ(actual, expected);  // bit-identical losses
  auto a = straight.model(), b = second.model();
  EXPECT_TRUE(same_parameters(a, b));
}

TEST(Trainer, CheckpointsAreAtomicPairsUsableForInference) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 10, 4);
  Trainer trainer(testing::tiny_model_config(), testing::tiny_training_config(), data, nullptr, "", quiet());
  const std::string path = dir.file("ckpt.pt");
  trainer.run_for(2, 0);
  trainer.save_checkpoint(path);
  EXPECT_TRUE(fs::exists(path + ".state-u2"));
  dir.write("ckpt.pt.state-u77", "left over by a crash");
  trainer.run_for(1, 0);
  trainer.save_checkpoint(path);
  EXPECT_TRUE(fs::exists(path + ".state-u3"));
  EXPECT_FALSE(fs::exists(path + ".state-u2"));
  EXPECT_FALSE(fs::exists(path + ".state-u77"));
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();

  const auto loaded = load_model_file(path);  // what `summarize -m` does
  EXPECT_EQ(loaded.metadata["kind"], "checkpoint");
  EXPECT_EQ(loaded.metadata["training_state"]["update"], 3);
  EXPECT_EQ(loaded.metadata["state_file"], "ckpt.pt.state-u3");

  dir.write("ckpt.pt.state-u3", "garbage");
  Trainer other(testing::tiny_model_config(), testing::tiny_training_config(), data, nullptr, "", quiet());
  try {
    other.load_checkpoint(path);
    FAIL() << "a corrupt state file must not load";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ckpt.pt.state-u3"), std::string::npos) << e.what();
  }
}

TEST(Trainer, ValidationKeepsTheBestCheckpointAndCallsBack) {
  TempDir dir;
  auto train = testing::synthetic_dataset(dir.file("train.bin"), 16, 5);
  auto valid = testing::synthetic_dataset(dir.file("valid.bin"), 6, 6);
  auto config = testing::tiny_training_config();
  config.max_updates = 6;
  config.validate_interval = 3;
  config.validate_at_end = true;
  config.save_interval_updates = 2;
  config.keep_last = 1;
  const std::string save = dir.file("run");
  Trainer trainer(testing::tiny_model_config(), config, train, valid, "", quiet(save));
  std::vector<ValidationResult> seen;
  trainer.on_validation([&](const ValidationResult& r) { seen.push_back(r); });
  const auto summary = trainer.run();
  EXPECT_EQ(summary.stop_reason, "max_updates");
  ASSERT_EQ(seen.size(), 2u);  // updates 3 and 6 (no second validation at the end)
  EXPECT_EQ(seen[0].update, 3);
  EXPECT_EQ(seen[1].update, 6);
  for (const auto& r : seen) {
    EXPECT_TRUE(std::isfinite(r.loss));
    EXPECT_NEAR(r.perplexity, std::exp(r.nll_loss), 1e-9);
    EXPECT_FALSE(r.has_rouge);
  }
  EXPECT_TRUE(trainer.state().has_best);
  EXPECT_TRUE(fs::exists(save + "/checkpoint_last.pt"));
  EXPECT_TRUE(fs::exists(save + "/checkpoint_best.pt"));
  EXPECT_TRUE(fs::exists(save + "/checkpoint_6.pt"));
  EXPECT_FALSE(fs::exists(save + "/checkpoint_4.pt"));  // keep_last 1
  const auto best = load_model_file(save + "/checkpoint_best.pt");
  EXPECT_EQ(best.metadata["training_state"]["best_update"], trainer.state().best_update);
  int valid_records = 0;
  for (const auto& r : testing::read_jsonl(save + "/metrics.jsonl")) valid_records += r["kind"] == "valid";
  EXPECT_EQ(valid_records, 2);
}

TEST(Trainer, CurriculumSwapKeepsCounters) {
  TempDir dir;
  auto short_docs = testing::synthetic_dataset(dir.file("short.bin"), 12, 7, 8, 16);
  auto long_docs = testing::synthetic_dataset(dir.file("long.bin"), 12, 8, 40, 60);
  Trainer trainer(testing::tiny_model_config(), testing::tiny_training_config(), short_docs, nullptr, "", quiet());
  trainer.run_for(2, 0);
  const double lr = trainer.learning_rate();
  const int64_t epoch = trainer.epoch();
  trainer.set_train_dataset(long_docs);
  EXPECT_EQ(trainer.update(), 2);
  EXPECT_EQ(trainer.learning_rate(), lr);
  EXPECT_EQ(trainer.epoch(), epoch + 1);
  trainer.run_for(2, 0);
  EXPECT_EQ(trainer.update(), 4);
}

TEST(Trainer, StopSignalFinishesTheUpdateAndSavesCheckpointLast) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 12, 9);
  auto config = testing::tiny_training_config();
  config.max_updates = 1000;
  const std::string save = dir.file("run");
  Trainer trainer(testing::tiny_model_config(), config, data, nullptr, "", quiet(save));
  int calls = 0;
  trainer.set_auxiliary_loss([&](const EncoderOutput&, const Batch&) {
    if (++calls == 3) std::raise(SIGTERM);  // arrives in the middle of update 3
    return torch::tensor(0.0);
  });
  StopSignalHandler handler;
  const auto summary = trainer.run();
  EXPECT_EQ(summary.stop_reason, "signal");
  EXPECT_EQ(summary.signal, SIGTERM);
  EXPECT_EQ(trainer.update(), 3);
  const auto saved = load_model_file(save + "/checkpoint_last.pt");
  EXPECT_EQ(saved.metadata["training_state"]["update"], 3);
  clear_stop_signal();
}

CurriculumConfig two_stage_curriculum(CurriculumUnit unit, int64_t until) {
  CurriculumConfig curriculum;
  curriculum.unit = unit;
  curriculum.stages = {{until, 16, 4, 80}, {0, 0, 0, 0}};
  return curriculum;
}

TEST(Trainer, CurriculumStagesCutTheBatchesAndChangeAtTheirUpdate) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 16, 11);  // sources 8..40, targets 3..10
  auto config = testing::tiny_training_config();
  config.curriculum = two_stage_curriculum(CurriculumUnit::updates, 3);
  Trainer trainer(testing::tiny_model_config(), config, data, nullptr, "", quiet());
  int64_t longest_source = 0, longest_target = 0, padded = 0;
  trainer.set_auxiliary_loss([&](const EncoderOutput&, const Batch& batch) {
    longest_source = std::max<int64_t>(longest_source, batch.source.size(1));
    longest_target = std::max<int64_t>(longest_target, batch.target_out.size(1));
    padded = std::max<int64_t>(padded, batch.source.numel() + batch.target_out.numel());
    return torch::tensor(0.0);
  });
  trainer.run_for(3, 0);
  EXPECT_EQ(trainer.curriculum_stage(), 0);
  EXPECT_LE(longest_source, 16);  // truncated (the data has sources up to 40 tokens)
  EXPECT_LE(longest_target, 4);
  EXPECT_LE(padded, 80);  // the stage's token budget
  const int64_t epoch = trainer.epoch();
  trainer.run_for(4, 0);
  EXPECT_EQ(trainer.curriculum_stage(), 1);
  EXPECT_GT(trainer.epoch(), epoch);  // the new stage started a fresh epoch
  EXPECT_GT(longest_source, 16);      // full lengths again
  EXPECT_EQ(trainer.state().curriculum_stage, 1);

  // By epoch, skipping overlong examples: during epoch 1 only examples that fit take part.
  config.curriculum = two_stage_curriculum(CurriculumUnit::epochs, 1);
  config.curriculum.overlong = OverlongExamples::skip;
  Trainer by_epoch(testing::tiny_model_config(), config, data, nullptr, "", quiet());
  bool only_short = true;
  by_epoch.set_auxiliary_loss([&](const EncoderOutput&, const Batch& batch) {
    for (int64_t i : batch.indices)
      if (by_epoch.epoch() == 1) only_short = only_short && data->source_length(i) <= 16 && data->target_length(i) <= 4;
    return torch::tensor(0.0);
  });
  int64_t epoch_one_examples = 0;
  for (const auto& batch : by_epoch.epoch_batches(1)) epoch_one_examples += static_cast<int64_t>(batch.size());
  int64_t fitting = 0;
  for (size_t i = 0; i < data->size(); ++i) fitting += data->source_length(i) <= 16 && data->target_length(i) <= 4;
  ASSERT_GT(fitting, 0);
  EXPECT_EQ(epoch_one_examples, fitting);
  while (by_epoch.epoch() == 1) by_epoch.run_for(1, 0);
  EXPECT_TRUE(only_short);
  by_epoch.run_for(1, 0);
  EXPECT_EQ(by_epoch.curriculum_stage(), 1);

  // A stage that keeps no example is refused up front.
  config.curriculum.stages[0].max_source_length = 2;
  try {
    Trainer none(testing::tiny_model_config(), config, data, nullptr, "", quiet());
    FAIL() << "a stage without examples must be refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("training.curriculum.stages.0: no example"), std::string::npos) << e.what();
  }
}

TEST(Trainer, ResumeMidCurriculumContinuesBitIdentically) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 14, 12);
  const auto model_config = testing::tiny_model_config(/*dropout=*/0.2);
  auto config = testing::tiny_training_config();
  config.curriculum.stages = {{3, 12, 4, 100}, {6, 24, 0, 0}, {0, 0, 0, 0}};
  const std::string straight_dir = dir.file("straight"), resumed_dir = dir.file("resumed");
  Trainer straight(model_config, config, data, nullptr, "", quiet(straight_dir));
  straight.run_for(9, 0);
  EXPECT_EQ(straight.curriculum_stage(), 2);
  // Interrupted at the end of stage 1 (the switch is still to come) and in the middle of stage 2.
  for (int64_t stop : {3, 5}) {
    Trainer part(model_config, config, data, nullptr, "", quiet(resumed_dir));
    if (stop > 3) part.load_checkpoint(resumed_dir + "/checkpoint_last.pt");
    part.run_for(stop - part.update(), 0);
    EXPECT_EQ(part.curriculum_stage(), stop == 3 ? 0 : 1);
    part.save_checkpoint(resumed_dir + "/checkpoint_last.pt");
  }
  torch::randn({100});
  Trainer last(model_config, config, data, nullptr, "", quiet(resumed_dir));
  last.load_checkpoint(resumed_dir + "/checkpoint_last.pt");
  EXPECT_EQ(last.curriculum_stage(), 1);
  last.run_for(4, 0);
  EXPECT_EQ(last.curriculum_stage(), 2);
  const auto expected = testing::train_losses(straight_dir + "/metrics.jsonl");
  ASSERT_EQ(expected.size(), 9u);
  EXPECT_EQ(testing::train_losses(resumed_dir + "/metrics.jsonl"), expected);
  EXPECT_EQ(last.epoch(), straight.epoch());
  auto a = straight.model(), b = last.model();
  EXPECT_TRUE(same_parameters(a, b));
}

TEST(Validator, RougeScoresAgainstTheFullReferenceTextTheDatasetKeeps) {
  TempDir dir;
  const std::string corpus = dir.write("corpus.txt",
                                       "the cell cycle is regulated by cyclins .\n"
                                       "mutations in these genes cause cancer .\n"
                                       "patients were followed for five years .\n");
  data::TokenizerTrainOptions options;
  options.input_files = {corpus};
  options.model_type = "word";
  options.vocab_size = 25;
  options.threads = 1;
  const auto tokenizer =
      std::make_shared<const data::SentencePieceTokenizer>(data::SentencePieceTokenizer::train(options));
  auto config = testing::tiny_model_config(/*dropout=*/0.0);
  config.vocab_size = tokenizer->vocab_size();
  auto model = seeded(config, 3);
  ValidatorOptions validator_options;
  validator_options.rouge_documents = 2;
  validator_options.search.beam = 1;
  validator_options.search.min_len = 3;
  validator_options.search.max_len_b = 6;
  const std::vector<std::vector<int64_t>> sources = {tokenizer->encode("the cell cycle is regulated"),
                                                     tokenizer->encode("patients were followed for five years")};
  // What the validator's decoding will produce: made the reference, it must score 1 exactly.
  std::vector<std::string> predictions;
  {
    EvalModeScope eval(model);
    GenerationOptions generation;
    generation.search = validator_options.search;
    for (const auto& summary : Summarizer(model, tokenizer).summarize_tokens(sources, generation))
      predictions.push_back(summary.hypotheses.front().text);
  }
  for (const auto& p : predictions) ASSERT_TRUE(std::any_of(p.begin(), p.end(), ::isalpha)) << p;
  auto write = [&](const std::string& name, bool references) {
    data::BinaryDatasetWriter writer(dir.file(name), tokenizer->vocab_size());
    for (size_t i = 0; i < sources.size(); ++i)  // targets cut to EOS alone, as a short max_target_length would
      writer.add("d" + std::to_string(i), sources[i], {tokenizer->eos_id()}, references ? predictions[i] : "");
    writer.finish();
    return data::BinaryDataset(dir.file(name));
  };
  Validator validator(model, torch::kCPU, tokenizer->serialized(), validator_options);
  const auto with_references = validator.validate(write("refs.bin", true), 1);
  ASSERT_TRUE(with_references.has_rouge);
  EXPECT_DOUBLE_EQ(with_references.rouge.rouge1.fmeasure, 1.0);
  EXPECT_DOUBLE_EQ(with_references.rouge.rougeLsum.fmeasure, 1.0);
  // An old dataset without references: the decoded (here empty) target tokens are the reference.
  const auto without = validator.validate(write("plain.bin", false), 1);
  EXPECT_DOUBLE_EQ(without.rouge.rouge1.fmeasure, 0.0);
}

}  // namespace
}  // namespace pyramidion
