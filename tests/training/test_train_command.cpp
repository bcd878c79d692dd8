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

#include "training_test_support.h"
#include "pyramidion/models/model_file.h"
#include "test_support.h"

extern char** environ;

namespace pyramidion {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

std::string cli() { return (testing::binary_dir() / "pyramidion").string(); }

// Runs `pyramidion ARGS` with output in `log`; returns the exit code.
int run_cli(const std::string& args, const std::string& log) {
  const std::string command = cli() + " --threads 2 " + args + " > '" + log + "' 2>&1";
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
      concatenate({sample / "arxiv" / (split + ".txt"), sample / "pubmed" / (split + ".txt")}, c->dir.file(split + ".txt"));
    c->test_file = c->dir.file("test.txt");
    const std::string log = c->dir.file("prepare.log");
    EXPECT_EQ(run_cli("tokenizer train --input " + c->dir.file("train.txt") + " --vocab-size 1000 --train-threads 2 --output " +
                          c->dir.file("spm.model"), log), 0) << read_text(log);
    c->data_dir = c->dir.file("prepared");
    EXPECT_EQ(run_cli("data prepare --tokenizer " + c->dir.file("spm.model") + " --train " + c->dir.file("train.txt") +
                          " --valid " + c->dir.file("val.txt") + " --test " + c->test_file + " --output " + c->data_dir +
                          " --max-source-length 512 --max-target-length 128 --threads 2 --no-progress", log), 0)
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
  max_tokens: 4096
  lr: 2.0e-3
  warmup_updates: 8
  clip_norm: 1.0
  max_updates: 36
  log_interval: 1
  validate_interval: 18
  valid_subset_size: 8
  valid_beam: 2
  valid_min_len: 10
  valid_max_len_b: 40
  best_checkpoint_metric: rougeLsum
  device: cpu
  seed: 3
)");
    return c;
  }();
  return corpus.get();
}

#define REQUIRE_CORPUS()                                                   \
  PYRAMIDION_REQUIRE_SHARED("data/cohan-sample/arxiv/train.txt");          \
  auto* corpus = prepared_corpus();                                        \
  ASSERT_NE(corpus, nullptr);                                              \
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
  EXPECT_NE(read_text(log).find("-c CONFIG.yaml or --preset NAME"), std::string::npos) << read_text(log);
}

TEST(TrainCommand, UnknownTrainingKeyIsRejected) {
  REQUIRE_CORPUS();
  TempDir dir;
  const auto config = dir.write("bad.yaml", "model:\n  d_model: 64\ntraining:\n  lr_schedule: constant\n");
  const std::string log = dir.file("log");
  EXPECT_EQ(run_cli("train -c " + config + " --data " + corpus->data_dir + " --save-dir " + dir.file("s"), log), 1);
  EXPECT_NE(read_text(log).find(config + ": training.lr_schedule: unknown key"), std::string::npos) << read_text(log);
  EXPECT_EQ(run_cli("train -c " + corpus->config + " --set training.warmup=3 --data " + corpus->data_dir + " --save-dir " +
                        dir.file("s"), log), 1);
  EXPECT_NE(read_text(log).find("training.warmup: unknown key"), std::string::npos) << read_text(log);
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
  EXPECT_NE(output.find("| update 36 | loss"), std::string::npos) << output;
  EXPECT_TRUE(fs::exists(save + "/config.yaml"));
  EXPECT_EQ(YAML::LoadFile(save + "/config.yaml")["model"]["vocab_size"].as<int>(), 1000);

  // Loss goes down: the mean of the first and of the last six logged updates.
  const auto losses = testing::train_losses(save + "/metrics.jsonl");
  ASSERT_EQ(losses.size(), 36u);
  double first = 0, last = 0;
  for (int i = 0; i < 6; ++i) {
    first += losses[i].second / 6;
    last += losses[losses.size() - 1 - i].second / 6;
  }
  EXPECT_LT(last, first - 0.5) << "first " << first << " last " << last;

  std::vector<nlohmann::json> validations;
  double updates_per_s = 0;
  for (const auto& r : testing::read_jsonl(save + "/metrics.jsonl")) {
    if (r["kind"] == "valid") validations.push_back(r);
    else updates_per_s = r["updates_per_s"].get<double>();
  }
  ASSERT_EQ(validations.size(), 2u);
  for (const auto& v : validations) {
    for (const char* key : {"rouge1", "rouge2", "rougeL", "rougeLsum"}) {
      const double value = v[key].get<double>();
      EXPECT_TRUE(std::isfinite(value) && value >= 0 && value <= 1) << key << " " << value;
    }
    EXPECT_TRUE(std::isfinite(v["loss"].get<double>()));
  }
  std::cerr << "[e2e] " << seconds << " s; loss first-6 mean " << first << " -> last-6 mean " << last
            << "; valid loss " << validations[0]["loss"] << " -> " << validations[1]["loss"] << "; R1/R2/RLsum "
            << validations[1]["rouge1"] << " / " << validations[1]["rouge2"] << " / " << validations[1]["rougeLsum"]
            << "; " << updates_per_s << " upd/s\n";

  // The best checkpoint summarizes directly.
  const std::string summaries = dir.file("summaries.jsonl");
  ASSERT_EQ(run_cli("summarize -m " + save + "/checkpoint_best.pt -i " + corpus->test_file + " -o " + summaries +
                        " --beam 2 --max-len-b 40", dir.file("summarize.log")), 0)
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
}

TEST(TrainCommand, SigtermSavesAndResumeContinuesIdentically) {
  REQUIRE_CORPUS();
  TempDir dir;
  const std::string common = " -c " + corpus->config + " --data " + corpus->data_dir +
                             " --set training.max_updates=14 training.validate_interval=0 training.validate_at_end=false";
  // Uninterrupted reference.
  const std::string straight = dir.file("straight");
  ASSERT_EQ(run_cli("train" + common + " --save-dir " + straight, dir.file("straight.log")), 0)
      << read_text(dir.file("straight.log"));

  // The same run, stopped by SIGTERM after a few updates.
  const std::string resumed = dir.file("resumed"), log = dir.file("resumed.log");
  const std::string command = "exec " + cli() + " --threads 2 train" + common + " training.max_updates=1000 --save-dir " +
                              resumed + " > " + log + " 2>&1";
  pid_t pid = 0;
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (testing::train_losses(resumed + "/metrics.jsonl").size() < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << read_text(log);
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << read_text(log);
  EXPECT_NE(read_text(log).find("interrupted by SIGTERM"), std::string::npos) << read_text(log);
  ASSERT_TRUE(fs::exists(resumed + "/checkpoint_last.pt"));
  const int64_t stopped_at = load_model_file(resumed + "/checkpoint_last.pt").metadata["training_state"]["update"];
  EXPECT_GE(stopped_at, 4);
  ASSERT_LT(stopped_at, 14);

  ASSERT_EQ(run_cli("train" + common + " --save-dir " + resumed + " --resume", dir.file("resume.log")), 0)
      << read_text(dir.file("resume.log"));
  EXPECT_NE(read_text(dir.file("resume.log")).find("resumed from"), std::string::npos);
  const auto expected = testing::train_losses(straight + "/metrics.jsonl");
  const auto actual = testing::train_losses(resumed + "/metrics.jsonl");
  ASSERT_EQ(expected.size(), 14u);
  EXPECT_EQ(actual, expected);  // bit-identical per-update losses across the interruption
}

}  // namespace
}  // namespace pyramidion
