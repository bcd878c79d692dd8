// `pyramidion train` end to end through the real CLI, on the cohan-sample arXiv + PubMed data: tokenizer train,
// data prepare, train with validation (loss + ROUGE), interrupt with SIGTERM + --resume (identical
// continuation), summarize the test split with checkpoint_best.pt.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "pyramidion/models/model_file.h"
#include "pyramidion/training/training_run.h"
#include "test_support.h"
#include "training_test_support.h"

extern char** environ;

namespace pyramidion {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

std::string cli() { return (testing::binary_dir() / "pyramidion").string(); }

// Runs `pyramidion ARGS` with output in `log`; returns the exit code.
int run_cli(const std::string& args, const std::string& log) {
  const std::string command = cli() + " --threads 1 " + args + " > '" + log + "' 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void concatenate(const std::vector<fs::path>& inputs, const std::string& output) {
  std::ofstream out(output);
  for (const auto& input : inputs) out << read_text(input.string());
}

// Tokenizer + prepared data, made once per test binary; nullptr without ../shared.
struct PreparedCorpus {
  TempDir dir;
  std::string data_dir, test_file, config;
};

PreparedCorpus* prepared_corpus() {
  static std::unique_ptr<PreparedCorpus> corpus = []() -> std::unique_ptr<PreparedCorpus> {
    const fs::path sample = testing::shared_dir() / "data/cohan-sample";
    if (!fs::exists(sample / "arxiv/train.txt") || !fs::exists(sample / "pubmed/train.txt")) return nullptr;
    auto c = std::make_unique<PreparedCorpus>();
    for (const std::string split : {"train", "val", "test"})
      concatenate({sample / "arxiv" / (split + ".txt"), sample / "pubmed" / (split + ".txt")},
                  c->dir.file(split + ".txt"));
    c->test_file = c->dir.file("test.txt");
    const std::string log = c->dir.file("prepare.log");
    EXPECT_EQ(run_cli("tokenizer train --input " + c->dir.file("train.txt") +
                          " --vocab-size 1000 --train-threads 1 --output " + c->dir.file("spm.model"),
                      log),
              0)
        << read_text(log);
    c->data_dir = c->dir.file("prepared");
    EXPECT_EQ(run_cli("data prepare --tokenizer " + c->dir.file("spm.model") + " --train " + c->dir.file("train.txt") +
                          " --valid " + c->dir.file("val.txt") + " --test " + c->test_file + " --output " +
                          c->data_dir + " --max-source-length 512 --max-target-length 128 --threads 1 --no-progress",
                      log),
              0)
        << read_text(log);
    // tiny-pyramidion scaled down: d 64, 2+2 layers, chunk 128, pooling 512 -> 256 -> 64.
    c->config = c->dir.write("tiny.yaml", R"(model:
  d_model: 64
  attention_heads: 4
  ffn_dim: 256
  encoder_layers: 2
  decoder_layers: 2
  dropout: 0.1
  attention_dropout: 0.0
  max_source_positions: 512
  max_target_positions: 128
  chunk_size: 128
  pooling: {0: 256, 1: 64}
training:
  max_tokens: 2048
  lr: 3.0e-3
  warmup_updates: 8
  clip_norm: 1.0
  max_updates: 120
  log_interval: 1
  validate_interval: 60
  valid_subset_size: 6
  valid_beam: 2
  valid_min_len: 10
  valid_max_len_b: 40
  valid_no_repeat_ngram_size: 2
  best_checkpoint_metric: rougeLsum
  device: cpu
  seed: 3
)");
    return c;
  }();
  return corpus.get();
}

#define REQUIRE_CORPUS()                                          \
  PYRAMIDION_REQUIRE_SHARED("data/cohan-sample/arxiv/train.txt"); \
  auto* corpus = prepared_corpus();                               \
  ASSERT_NE(corpus, nullptr);                                     \
  ASSERT_TRUE(fs::exists(corpus->data_dir + "/train.bin"))

TEST(TrainCommand, ConfigErrorsAreOneLineNamingFileAndKey) {
  TempDir dir;
  const auto config = dir.write("bad.yaml", "model:\n  d_model: 64\ntraining:\n  lr_schedule: constant\n");
  fs::create_directories(dir.file("data"));
  std::ofstream(dir.file("data/spm.model")) << "not a tokenizer";
  const std::string log = dir.file("log");
  // A missing data directory is reported before anything else is read.
  EXPECT_EQ(run_cli("train -c " + config + " --data " + dir.file("nowhere") + " --save-dir " + dir.file("s"), log), 1);
  EXPECT_NE(read_text(log).find("nowhere/spm.model: missing"), std::string::npos) << read_text(log);
  EXPECT_NE(run_cli("train --data " + dir.file("nowhere") + " --save-dir " + dir.file("s"), log), 0);
  EXPECT_NE(read_text(log).find("give either a config file (-c) or a preset (--preset)"), std::string::npos)
      << read_text(log);
}

TEST(TrainCommand, UnknownTrainingKeyIsRejected) {
  REQUIRE_CORPUS();
  TempDir dir;
  const auto config = dir.write("bad.yaml", "model:\n  d_model: 64\ntraining:\n  lr_schedule: constant\n");
  const std::string log = dir.file("log");
  EXPECT_EQ(run_cli("train -c " + config + " --data " + corpus->data_dir + " --save-dir " + dir.file("s"), log), 1);
  EXPECT_NE(read_text(log).find(config + ": training.lr_schedule: unknown key"), std::string::npos) << read_text(log);
  EXPECT_EQ(run_cli("train -c " + corpus->config + " --set training.warmup=3 --data " + corpus->data_dir +
                        " --save-dir " + dir.file("s"),
                    log),
            1);
  EXPECT_NE(read_text(log).find("training.warmup: unknown key"), std::string::npos) << read_text(log);
}

// describe, bench and train resolve -c/--set through resolve_run_config: the same keys give the same errors.
TEST(TrainCommand, SetKeysAreCheckedLikeDescribeAndBench) {
  REQUIRE_CORPUS();
  TempDir dir;
  const std::string log = dir.file("log");
  for (const std::string assignment : {"training.lrr=1", "d_modle=3", "pooling.type=mean", "pooling.schedule.0=0",
                                       "pooling_sort_back=maybe", "lrr=1"}) {
    SCOPED_TRACE(assignment);
    std::string expected;
    try {
      resolve_run_config(corpus->config, "", {assignment}, 0);
    } catch (const std::invalid_argument& e) {
      expected = e.what();
    }
    ASSERT_FALSE(expected.empty()) << "the override is accepted";
    for (const std::string& command :
         {"describe -c " + corpus->config, "bench -c " + corpus->config,
          "train -c " + corpus->config + " --data " + corpus->data_dir + " --save-dir " + dir.file("s")}) {
      SCOPED_TRACE(command);
      EXPECT_NE(run_cli(command + " --set '" + assignment + "'", log), 0);
      EXPECT_NE(read_text(log).find(expected), std::string::npos) << read_text(log) << "\nexpected: " << expected;
    }
  }
  // The new and the legacy spellings of a pooling key are accepted by describe (train/bench then run).
  for (const std::string assignment : {"pooling.schedule.0=128", "pooling.0=128", "pooling={0: 128}",
                                       "pooling.sort_back=false", "pooling_sort_back=false", "training.lr=1e-3"}) {
    SCOPED_TRACE(assignment);
    EXPECT_EQ(run_cli("describe -c " + corpus->config + " --set '" + assignment + "'", log), 0) << read_text(log);
  }
}

// The library's training job (training/training_run.h) is what `train` runs: the same options give the same
// weights, bit for bit, and a summary whose reason is the enum's; its errors are one line naming the file.
TEST(TrainCommand, TheLibraryEntryPointTrainsAsTheCommandDoes) {
  REQUIRE_CORPUS();
  TempDir dir;
  const std::vector<std::string> overrides = {"training.max_updates=6", "training.validate_interval=0",
                                              "training.validate_at_end=false"};
  const std::string log = dir.file("train.log");
  ASSERT_EQ(run_cli("train -c " + corpus->config + " --data " + corpus->data_dir + " --save-dir " + dir.file("cli") +
                        " --no-progress --set training.max_updates=6 training.validate_interval=0 "
                        "training.validate_at_end=false",
                    log),
            0)
      << read_text(log);
  TrainingRunOptions options;
  options.config = corpus->config;
  options.overrides = overrides;
  options.data_dir = corpus->data_dir;
  options.save_dir = dir.file("library");
  options.progress = false;
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);  // as the command's --threads 1
  const TrainingRunResult result = run_training(options);
  torch::set_num_threads(threads);
  EXPECT_EQ(result.summary.reason, StopReason::max_updates);
  EXPECT_EQ(result.summary.stop_reason, "max_updates");
  EXPECT_EQ(result.summary.update, 6);
  EXPECT_EQ(result.state.update, 6);
  const auto from_cli = read_model_file_contents(dir.file("cli") + "/checkpoint_last.pt");
  const auto from_library = read_model_file_contents(result.last_checkpoint);
  EXPECT_FALSE(from_cli.weights.empty());
  EXPECT_TRUE(from_cli.weights == from_library.weights) << "the weights differ";
  EXPECT_EQ(read_text(dir.file("cli") + "/config.yaml"), read_text(dir.file("library") + "/config.yaml"));

  // Its errors: one line naming the file or the option; a second run into the same directory is refused.
  TrainingRunOptions missing = options;
  missing.data_dir = dir.file("nowhere");
  try {
    run_training(missing);
    ADD_FAILURE() << "a missing data directory was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("nowhere/spm.model: missing"), std::string::npos) << e.what();
  }
  try {
    run_training(options);
    ADD_FAILURE() << "an existing run was overwritten";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint_last.pt exists: pass --resume"), std::string::npos) << e.what();
  }
  TrainingRunOptions both = options;
  both.preset = "tiny-pyramidion";
  EXPECT_THROW(run_training(both), std::invalid_argument);
}

TEST(TrainCommand, EndToEndOnArxivAndPubmed) {
  REQUIRE_CORPUS();
  TempDir dir;
  const std::string save = dir.file("run"), log = dir.file("train.log");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run_cli("train -c " + corpus->config + " --data " + corpus->data_dir + " --save-dir " + save, log), 0)
      << read_text(log);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string output = read_text(log);
  EXPECT_NE(output.find("training:"), std::string::npos) << "the resolved config is echoed";
  EXPECT_NE(output.find("| update 120 | loss"), std::string::npos) << output;
  EXPECT_TRUE(fs::exists(save + "/config.yaml"));
  EXPECT_EQ(YAML::LoadFile(save + "/config.yaml")["model"]["vocab_size"].as<int>(), 1000);

  // Loss goes down: the mean of the first and of the last ten logged updates.
  const auto losses = testing::train_losses(save + "/metrics.jsonl");
  ASSERT_EQ(losses.size(), 120u);
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    first += losses[i].second / 10;
    last += losses[losses.size() - 1 - i].second / 10;
  }
  EXPECT_LT(last, first - 0.5) << "first " << first << " last " << last;

  std::vector<nlohmann::json> validations;
  double updates_per_s = 0;
  for (const auto& r : testing::read_jsonl(save + "/metrics.jsonl")) {
    if (r["kind"] == "valid")
      validations.push_back(r);
    else
      updates_per_s = r["updates_per_s"].get<double>();
  }
  ASSERT_EQ(validations.size(), 2u);
  for (const auto& v : validations) {
    for (const char* key : {"rouge1", "rouge2", "rougeL", "rougeLsum"}) {
      const double value = v[key].get<double>();
      EXPECT_TRUE(std::isfinite(value) && value >= 0 && value <= 1) << key << " " << value;
    }
    EXPECT_TRUE(std::isfinite(v["loss"].get<double>()));
  }
  std::cerr << "[e2e] " << seconds << " s; loss first-10 mean " << first << " -> last-10 mean " << last
            << "; valid loss " << validations[0]["loss"] << " -> " << validations[1]["loss"] << "; R1/R2/RLsum "
            << validations[1]["rouge1"] << " / " << validations[1]["rouge2"] << " / " << validations[1]["rougeLsum"]
            << "; " << updates_per_s << " upd/s\n";

  // The best checkpoint summarizes directly.
  const std::string summaries = dir.file("summaries.jsonl");
  ASSERT_EQ(run_cli("summarize -m " + save + "/checkpoint_best.pt -i " + corpus->test_file + " -o " + summaries +
                        " --beam 2 --max-len-b 40",
                    dir.file("summarize.log")),
            0)
      << read_text(dir.file("summarize.log"));
  const auto records = testing::read_jsonl(summaries);
  EXPECT_EQ(records.size(), 22u);
  for (const auto& r : records) {
    EXPECT_TRUE(r.contains("id") && r.contains("summary"));
    EXPECT_TRUE(r["summary"].is_string());
  }

  // An existing run is not overwritten by accident.
  EXPECT_EQ(run_cli("train -c " + corpus->config + " --data " + corpus->data_dir + " --save-dir " + save, log), 1);
  EXPECT_NE(read_text(log).find("pass --resume"), std::string::npos);

  // The same run stopped by SIGTERM, then resumed: the per-update losses equal the uninterrupted run's.
  const std::string resumed = dir.file("resumed"), resumed_log = dir.file("resumed.log");
  const std::string command = "exec " + cli() + " --threads 1 train -c " + corpus->config + " --data " +
                              corpus->data_dir + " --set training.max_updates=100000 --save-dir " + resumed + " > " +
                              resumed_log + " 2>&1";
  pid_t pid = 0;
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (testing::train_losses(resumed + "/metrics.jsonl").size() < 10 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << read_text(resumed_log);
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << read_text(resumed_log);
  EXPECT_NE(read_text(resumed_log).find("interrupted by SIGTERM"), std::string::npos) << read_text(resumed_log);
  ASSERT_TRUE(fs::exists(resumed + "/checkpoint_last.pt"));
  const int64_t stopped_at = load_model_file(resumed + "/checkpoint_last.pt").metadata["training_state"]["update"];
  EXPECT_GE(stopped_at, 10);
  ASSERT_LT(stopped_at, 120) << "the run finished before the signal: make it longer";
  ASSERT_EQ(
      run_cli("train -c " + corpus->config + " --data " + corpus->data_dir + " --save-dir " + resumed + " --resume",
              dir.file("resume.log")),
      0)
      << read_text(dir.file("resume.log"));
  EXPECT_NE(read_text(dir.file("resume.log")).find("resumed from"), std::string::npos);
  EXPECT_EQ(testing::train_losses(resumed + "/metrics.jsonl"), losses);  // bit-identical across the interruption
  std::cerr << "[e2e] SIGTERM at update " << stopped_at << ", resumed to 120: identical losses\n";
}

}  // namespace
}  // namespace pyramidion
