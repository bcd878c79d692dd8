// Data-parallel training on c10d (Gloo, CPU): 2 processes on loopback against 1 process with accumulation 2
// (float64, weights to 1e-9, the same metrics), the `train --nproc-per-node` launcher, one rank per network
// namespace talking over a veth pair only, and a rank that dies or hangs making the other fail within the timeout.
// Every child process is waited for with a deadline and killed past it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "pyramidion/training/distributed_context.h"
#include "pyramidion/training/store_bind_address.h"
#include "pyramidion/training/trainer.h"
#include "test_support.h"
#include "training_test_support.h"

extern char** environ;

namespace pyramidion {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

bool gloo_available() {
  for (const auto& b : compiled_distributed_backends())
    if (b == "gloo") return true;
  return false;
}

#define REQUIRE_GLOO() \
  if (!gloo_available()) GTEST_SKIP() << "this build has no c10d Gloo backend"

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A child process with extra environment variables, stdout+stderr into `log`.
struct Child {
  pid_t pid = -1;
  int status = 0;
  bool done = false;
};

Child spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
            const std::string& log) {
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    if (env.count(key) == 0) environment.push_back(entry);
  }
  for (const auto& [key, value] : env) environment.push_back(key + "=" + value);
  std::vector<char*> envp, args;
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  Child child;
  if (posix_spawn(&child.pid, args[0], &actions, nullptr, args.data(), envp.data()) != 0) child.pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return child;
}

// Waits up to `seconds`; kills the child past it (then status says SIGKILL). Returns whether it ended in time.
bool wait_for(Child& child, double seconds) {
  if (child.done || child.pid <= 0) return child.done;
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (Clock::now() < deadline) {
    if (::waitpid(child.pid, &child.status, WNOHANG) == child.pid) return child.done = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(child.pid, SIGKILL);
  ::waitpid(child.pid, &child.status, 0);
  child.done = true;
  return false;
}

int exit_code(const Child& c) { return WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1; }

// Complete lines of a file another process appends to (a partial last line is not counted).
size_t complete_lines(const std::string& path) {
  const std::string text = read_text(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

bool still_running(Child& child) {
  if (child.done) return false;
  if (::waitpid(child.pid, &child.status, WNOHANG) == child.pid) child.done = true;
  return !child.done;
}

// Waits (at most `seconds`) until `path` has `lines` complete lines while `child` runs.
bool wait_for_lines(Child& child, const std::string& path, size_t lines, double seconds) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (Clock::now() < deadline && still_running(child)) {
    if (complete_lines(path) >= lines) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// A port nobody listens on now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string self_executable() { return fs::read_symlink("/proc/self/exe").string(); }
std::string cli() { return (testing::binary_dir() / "pyramidion").string(); }

// ---- 2 processes vs 1 process with accumulation 2 (library level, float64) -------------------------------------

// Fixed source length, targets of 3..10 tokens and max_tokens 60: every batch holds exactly 2 examples, so each
// epoch has 8 batches (even: no batch is left out of the 2 shards) while the target token counts vary.
constexpr int64_t kExamples = 16;
constexpr int64_t kUpdates = 10;

ModelConfig equivalence_model() { return testing::tiny_model_config(/*dropout=*/0.0); }

TrainingConfig equivalence_training(int64_t update_freq) {
  auto t = testing::tiny_training_config();
  t.max_tokens = 60;
  t.update_freq = update_freq;
  t.clip_norm = 0.5;  // clipping must see the global gradient
  t.max_updates = kUpdates;
  return t;
}

TrainerOptions options_in(const std::string& save_dir) {
  TrainerOptions o;
  o.save_dir = save_dir;
  o.progress = false;
  o.log_lines = false;
  return o;
}

SummarizationModel float64_model(uint64_t seed) {
  torch::manual_seed(seed);
  SummarizationModel model(equivalence_model());
  model->to(torch::kFloat64);
  return model;
}

void save_parameters(SummarizationModel& model, const std::string& path) {
  std::vector<torch::Tensor> values;
  for (const auto& p : model->parameters()) values.push_back(p.detach().clone());
  torch::save(values, path);
}

// The worker half of TwoProcessesMatchOneProcessWithAccumulation: runs only as a child (PYRAMIDION_DIST_TEST_DIR).
TEST(DistributedWorker, TrainsOneRank) {
  const char* dir = std::getenv("PYRAMIDION_DIST_TEST_DIR");
  if (dir == nullptr) GTEST_SKIP() << "runs as a child of DistributedTraining tests only";
  DistributedOptions options = DistributedOptions::from_environment();
  options.timeout_seconds = 60;
  options.bucket_mb = 4096.0 / (1 << 20);  // 4 KiB: several buckets, most started while backward runs
  DistributedContext context(options, torch::kCPU);
  auto data = std::make_shared<data::BinaryDataset>(std::string(dir) + "/train.bin");
  TrainerOptions trainer_options = options_in(std::string(dir) + "/distributed");
  trainer_options.rank = context.rank();
  trainer_options.world_size = context.world_size();
  trainer_options.reducer = context.reducer();
  auto model = float64_model(context.rank() == 0 ? 5 : 6);  // rank 1 differs: the initial broadcast must fix it
  Trainer trainer(model, equivalence_training(1), data, data, "", trainer_options);
  const auto summary = trainer.run_for(kUpdates, 0);
  const ValidationResult validation = trainer.validate();  // sharded: each rank half the batches, sums reduced
  std::ofstream(std::string(dir) + "/valid" + std::to_string(context.rank()) + ".txt")
      << fmt::format("{:.17g} {}", validation.loss, validation.tokens);
  ASSERT_EQ(summary.updates, kUpdates);
  EXPECT_GT(context.gradient_buckets(), 3);
  EXPECT_GT(context.buckets_started_during_backward(), 0);  // overlapped with backward
  save_parameters(model, std::string(dir) + "/rank" + std::to_string(context.rank()) + ".pt");
}

std::vector<nlohmann::json> train_records(const std::string& path) {
  std::vector<nlohmann::json> records;
  for (const auto& r : testing::read_jsonl(path))
    if (r["kind"] == "train") records.push_back(r);
  return records;
}

TEST(DistributedTraining, TwoProcessesMatchOneProcessWithAccumulation) {
  REQUIRE_GLOO();
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), kExamples, 11, 20, 20, 3, 10);

  // The reference: one process, update_freq 2, same global batch.
  auto reference = float64_model(5);
  Trainer single(reference, equivalence_training(2), data, data, "", options_in(dir.file("single")));
  ASSERT_EQ(single.epoch_batches(1).size(), 8u);
  single.run_for(kUpdates, 0);
  ASSERT_GT(single.epoch(), 1);  // the run crosses epochs
  const ValidationResult validation = single.validate();

  const int port = free_port();
  std::vector<Child> ranks;
  for (int rank = 0; rank < 2; ++rank)
    ranks.push_back(spawn({self_executable(), "--gtest_filter=DistributedWorker.TrainsOneRank"},
                          {{"RANK", std::to_string(rank)},
                           {"WORLD_SIZE", "2"},
                           {"LOCAL_RANK", std::to_string(rank)},
                           {"MASTER_ADDR", "127.0.0.1"},
                           {"MASTER_PORT", std::to_string(port)},
                           {"PYRAMIDION_DIST_TEST_DIR", dir.path().string()}},
                          dir.file("rank" + std::to_string(rank) + ".log")));
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_GT(ranks[rank].pid, 0);
    EXPECT_TRUE(wait_for(ranks[rank], 180)) << "rank " << rank << " did not finish";
    ASSERT_EQ(exit_code(ranks[rank]), 0) << read_text(dir.file("rank" + std::to_string(rank) + ".log"));
  }

  std::vector<torch::Tensor> rank0, rank1;
  torch::load(rank0, dir.file("rank0.pt"));
  torch::load(rank1, dir.file("rank1.pt"));
  const auto expected = reference->parameters();
  ASSERT_EQ(rank0.size(), expected.size());
  double max_difference = 0, max_rank_difference = 0, max_moved = 0;
  torch::manual_seed(5);
  SummarizationModel initial(equivalence_model());
  initial->to(torch::kFloat64);
  for (size_t i = 0; i < expected.size(); ++i) {
    max_difference = std::max(max_difference, (rank0[i] - expected[i]).abs().max().item<double>());
    max_rank_difference = std::max(max_rank_difference, (rank0[i] - rank1[i]).abs().max().item<double>());
    max_moved = std::max(max_moved, (expected[i] - initial->parameters()[i]).abs().max().item<double>());
  }
  EXPECT_LT(max_difference, 1e-9);
  EXPECT_EQ(max_rank_difference, 0.0);  // every rank applies the same all-reduced update
  EXPECT_GT(max_moved, 1e-4);           // training did move the weights

  // Validation over the shards, reduced: every rank gets the single process's loss and token count.
  for (int rank = 0; rank < 2; ++rank) {
    std::istringstream in(read_text(dir.file("valid" + std::to_string(rank) + ".txt")));
    double loss = 0;
    int64_t tokens = 0;
    in >> loss >> tokens;
    EXPECT_NEAR(loss, validation.loss, 1e-12) << "rank " << rank;
    EXPECT_EQ(tokens, validation.tokens) << "rank " << rank;
  }

  // Only rank 0 writes metrics; its records are the single process's (timing fields aside).
  const auto a = train_records(dir.file("single/metrics.jsonl"));
  const auto b = train_records(dir.file("distributed/metrics.jsonl"));
  ASSERT_EQ(a.size(), static_cast<size_t>(kUpdates));
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    for (const char* key : {"epoch", "update", "target_tokens", "skipped_updates"})
      EXPECT_EQ(a[i][key], b[i][key]) << key;
    for (const char* key : {"loss", "nll_loss", "lr", "grad_norm"})
      EXPECT_NEAR(a[i][key].get<double>(), b[i][key].get<double>(),
                  1e-9 * std::max(1.0, std::abs(a[i][key].get<double>())))
          << key << " at update " << i + 1;
    EXPECT_EQ(b[i]["world_size"], 2);
    EXPECT_TRUE(b[i].contains("allreduce_share"));
  }
}

// ---- issue 21: exact dropout across world sizes and resumes, ranks that disagree, rendezvous waits ----------

ModelConfig dropout_model() { return testing::tiny_model_config(/*dropout=*/0.1); }

SummarizationModel float64_model(const ModelConfig& config, uint64_t seed) {
  torch::manual_seed(seed);
  SummarizationModel model(config);
  model->to(torch::kFloat64);
  return model;
}

// One rank of the runs below, by PYRAMIDION_DIST_TEST_MODE: "dropout" (kUpdates updates with dropout 0.1),
// "first" (half of them, then rank 0 saves checkpoint_last.pt), "second" (resumes it and trains the other half),
// "model" / "lr" (rank 1 has another ffn_dim / lr: the Trainer must refuse), "rendezvous" (only the rendezvous,
// timeout PYRAMIDION_DIST_TEST_TIMEOUT). Errors go to error<rank>.txt, parameters to <mode><rank>.pt.
TEST(DistributedWorker, RunsOneRankOfAMode) {
  const char* dir_text = std::getenv("PYRAMIDION_DIST_TEST_DIR");
  const char* mode_text = std::getenv("PYRAMIDION_DIST_TEST_MODE");
  if (dir_text == nullptr || mode_text == nullptr) GTEST_SKIP() << "runs as a child of DistributedTraining tests only";
  const std::string dir = dir_text, mode = mode_text;
  DistributedOptions options = DistributedOptions::from_environment();
  const char* timeout = std::getenv("PYRAMIDION_DIST_TEST_TIMEOUT");
  options.timeout_seconds = timeout != nullptr ? std::atof(timeout) : 60;
  const std::string rank_text = std::to_string(options.rank);
  try {
    DistributedContext context(options, torch::kCPU);
    if (mode == "rendezvous") return;
    auto data = std::make_shared<data::BinaryDataset>(dir + "/train.bin");
    TrainerOptions trainer_options = options_in(dir + "/" + (mode == "first" || mode == "second" ? "resume" : mode));
    trainer_options.rank = context.rank();
    trainer_options.world_size = context.world_size();
    trainer_options.reducer = context.reducer();
    ModelConfig model_config = dropout_model();
    TrainingConfig training = equivalence_training(1);
    if (mode == "model" && context.rank() == 1) model_config.ffn_dim *= 2;
    if (mode == "lr" && context.rank() == 1) training.lr *= 2;
    auto model = float64_model(model_config, 5);
    Trainer trainer(model, training, data, data, "", trainer_options);
    const std::string checkpoint = dir + "/resume/checkpoint_last.pt";
    if (mode == "second") trainer.load_checkpoint(checkpoint);
    const auto summary = trainer.run_for(mode == "dropout" ? kUpdates : kUpdates / 2, 0);
    ASSERT_EQ(summary.updates, mode == "dropout" ? kUpdates : kUpdates / 2);
    if (mode == "first" && context.rank() == 0) trainer.save_checkpoint(checkpoint);
    context.barrier();  // both ranks finish together
    save_parameters(model, dir + "/" + mode + rank_text + ".pt");
  } catch (const std::exception& e) {
    std::ofstream(dir + "/error" + rank_text + ".txt") << e.what();
  }
}

std::vector<Child> spawn_mode(const TempDir& dir, const std::string& mode, int port, int world_size = 2,
                              double timeout = 60) {
  std::vector<Child> ranks;
  for (int rank = 0; rank < world_size; ++rank)
    ranks.push_back(spawn({self_executable(), "--gtest_filter=DistributedWorker.RunsOneRankOfAMode"},
                          {{"RANK", std::to_string(rank)},
                           {"WORLD_SIZE", std::to_string(world_size)},
                           {"MASTER_ADDR", "127.0.0.1"},
                           {"MASTER_PORT", std::to_string(port)},
                           {"PYRAMIDION_DIST_TEST_DIR", dir.path().string()},
                           {"PYRAMIDION_DIST_TEST_MODE", mode},
                           {"PYRAMIDION_DIST_TEST_TIMEOUT", fmt::format("{}", timeout)}},
                          dir.file(mode + std::to_string(rank) + ".log")));
  return ranks;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, (a[i] - b[i]).abs().max().item<double>());
  return d;
}

std::vector<torch::Tensor> load_parameters(const std::string& path) {
  std::vector<torch::Tensor> values;
  if (fs::exists(path)) torch::load(values, path);
  return values;
}

// Finding 4: with dropout 0.1, 2 ranks reproduce 1 process with update_freq 2 (each example gets the dropout
// masks of its place in the global order), and a 2-rank run resumed halfway is the uninterrupted one.
TEST(DistributedTraining, DropoutRunsMatchOneProcessAndResumeExactly) {
  REQUIRE_GLOO();
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), kExamples, 11, 20, 20, 3, 10);
  auto reference = float64_model(dropout_model(), 5);
  Trainer single(reference, equivalence_training(2), data, data, "", options_in(dir.file("single")));
  single.run_for(kUpdates, 0);

  for (const std::string mode : {"dropout", "first", "second"}) {
    auto ranks = spawn_mode(dir, mode, free_port());
    for (int rank = 0; rank < 2; ++rank) {
      ASSERT_GT(ranks[rank].pid, 0);
      EXPECT_TRUE(wait_for(ranks[rank], 180)) << mode << " rank " << rank << " did not finish";
      ASSERT_EQ(exit_code(ranks[rank]), 0) << read_text(dir.file(mode + std::to_string(rank) + ".log"));
      ASSERT_FALSE(fs::exists(dir.file("error" + std::to_string(rank) + ".txt")))
          << read_text(dir.file("error" + std::to_string(rank) + ".txt"));
    }
  }
  const auto full0 = load_parameters(dir.file("dropout0.pt")), full1 = load_parameters(dir.file("dropout1.pt"));
  EXPECT_LT(max_difference(full0, reference->parameters()), 1e-9);  // 2 ranks == 1 process, update_freq 2
  EXPECT_EQ(max_difference(full0, full1), 0.0);
  const auto resumed0 = load_parameters(dir.file("second0.pt")), resumed1 = load_parameters(dir.file("second1.pt"));
  EXPECT_EQ(max_difference(resumed0, full0), 0.0);  // resumed == uninterrupted, bit for bit
  EXPECT_EQ(max_difference(resumed1, full1), 0.0);
}

// Finding 8: a rank with another model size, or another learning rate, is refused on every rank with one line
// naming the key, before any collective could abort or the run could train apart.
TEST(DistributedTraining, RanksWithDifferentConfigsAreRefusedOnEveryRank) {
  REQUIRE_GLOO();
  TempDir dir;
  testing::synthetic_dataset(dir.file("train.bin"), kExamples, 11, 20, 20, 3, 10);
  for (const auto& [mode, key] :
       {std::pair<std::string, std::string>{"model", "model.ffn_dim"}, {"lr", "training.lr"}}) {
    for (int rank = 0; rank < 2; ++rank) fs::remove(dir.file("error" + std::to_string(rank) + ".txt"));
    auto ranks = spawn_mode(dir, mode, free_port());
    for (int rank = 0; rank < 2; ++rank) {
      const std::string log = read_text(dir.file(mode + std::to_string(rank) + ".log"));
      EXPECT_TRUE(wait_for(ranks[rank], 120)) << mode << " rank " << rank << " hung";
      EXPECT_EQ(exit_code(ranks[rank]), 0) << log;  // no abort inside Gloo
      const std::string error = read_text(dir.file("error" + std::to_string(rank) + ".txt"));
      EXPECT_NE(error.find("rank " + std::to_string(rank) + " of 2: the ranks disagree on " + key), std::string::npos)
          << mode << " rank " << rank << ": " << error << log;
      EXPECT_EQ(error.find('\n'), std::string::npos) << error;
      EXPECT_FALSE(fs::exists(dir.file(mode + std::to_string(rank) + ".pt"))) << "rank " << rank << " trained";
    }
  }
}

// Finding 9: a rendezvous port held by another program, and a WORLD_SIZE with no other rank, fail within
// --dist-timeout, saying what they waited for.
TEST(DistributedTraining, RendezvousWaitsRespectTheTimeoutAndSayWhatFor) {
  REQUIRE_GLOO();
  TempDir dir;
  const double timeout = 4;
  {  // a program that holds the port: listens, never answers
    const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof(a);
    ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(::listen(holder, 16), 0);
    ::getsockname(holder, reinterpret_cast<sockaddr*>(&a), &n);
    const int port = ntohs(a.sin_port);
    const auto start = Clock::now();
    auto ranks = spawn_mode(dir, "rendezvous", port, 2, timeout);
    for (int rank = 0; rank < 2; ++rank) EXPECT_TRUE(wait_for(ranks[rank], timeout + 20)) << "rank " << rank << " hung";
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), timeout + 20);
    ::close(holder);
    const std::string where = "127.0.0.1:" + std::to_string(port);
    const std::string error0 = read_text(dir.file("error0.txt")), error1 = read_text(dir.file("error1.txt"));
    EXPECT_NE(error0.find("rendezvous port " + where + " is in use by another process"), std::string::npos) << error0;
    EXPECT_NE(error1.find("rendezvous at " + where), std::string::npos) << error1;
    EXPECT_NE(error1.find("within 4 s"), std::string::npos) << error1;
  }
  {  // WORLD_SIZE=2 left in the environment, one process: it says whom it waits for, and gives up in time
    fs::remove(dir.file("error0.txt"));
    const auto start = Clock::now();
    std::vector<Child> alone;
    alone.push_back(spawn({self_executable(), "--gtest_filter=DistributedWorker.RunsOneRankOfAMode"},
                          {{"RANK", "0"},
                           {"WORLD_SIZE", "2"},
                           {"MASTER_ADDR", "127.0.0.1"},
                           {"MASTER_PORT", std::to_string(free_port())},
                           {"PYRAMIDION_DIST_TEST_DIR", dir.path().string()},
                           {"PYRAMIDION_DIST_TEST_MODE", "rendezvous"},
                           {"PYRAMIDION_DIST_TEST_TIMEOUT", fmt::format("{}", timeout)}},
                          dir.file("alone.log")));
    EXPECT_TRUE(wait_for(alone[0], timeout + 20)) << "rank 0 waited past the timeout";
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), timeout + 20);
    const std::string log = read_text(dir.file("alone.log")), error = read_text(dir.file("error0.txt"));
    EXPECT_NE(log.find("waiting at the rendezvous 127.0.0.1:"), std::string::npos) << log;
    EXPECT_NE(log.find("for rank 1"), std::string::npos) << log;
    EXPECT_NE(error.find("rank 1 did not arrive within 4 s"), std::string::npos) << error;
  }
}

// Finding 5: the TCPStore that rank 0 serves listens on MASTER_ADDR (loopback here), not on every interface.
std::vector<std::string> listening_addresses(int port) {
  std::vector<std::string> addresses;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const auto colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) continue;  // 0A: LISTEN
      if (std::stoi(local.substr(colon + 1), nullptr, 16) == port) addresses.push_back(local.substr(0, colon));
    }
  }
  return addresses;
}

TEST(DistributedTraining, RendezvousStoreListensOnMasterAddrOnly) {
  REQUIRE_GLOO();
  DistributedOptions options;
  options.master_addr = "127.0.0.1";
  options.master_port = free_port();
  options.rank = 0;
  options.world_size = 1;
  options.timeout_seconds = 30;
  DistributedContext context(options, torch::kCPU);
  const auto addresses = listening_addresses(static_cast<int>(options.master_port));
  ASSERT_FALSE(addresses.empty()) << "no listening socket on port " << options.master_port;
  for (const auto& address : addresses)  // 127.0.0.1 in /proc/net/tcp, or ::ffff:127.0.0.1 in /proc/net/tcp6
    EXPECT_TRUE(address == "0100007F" || address == "0000000000000000FFFF00000100007F")
        << "the store listens on " << address << " (hex), not on 127.0.0.1";

  // The seam: what a bind() of the wildcard address becomes; other ports and specific addresses stay.
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(29511);
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  sockaddr_storage out{};
  socklen_t length = 0;
  ASSERT_TRUE(narrowed_store_address(reinterpret_cast<sockaddr*>(&any), sizeof(any), "127.0.0.1", 29511, out, length));
  EXPECT_EQ(reinterpret_cast<sockaddr_in*>(&out)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_FALSE(narrowed_store_address(reinterpret_cast<sockaddr*>(&any), sizeof(any), "127.0.0.1", 29512, out, length));
  sockaddr_in6 any6{};
  any6.sin6_family = AF_INET6;
  any6.sin6_port = htons(29511);
  ASSERT_TRUE(
      narrowed_store_address(reinterpret_cast<sockaddr*>(&any6), sizeof(any6), "127.0.0.1", 29511, out, length));
  EXPECT_TRUE(IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<sockaddr_in6*>(&out)->sin6_addr));
}

// ---- through the CLI -------------------------------------------------------------------------------------------

// A tokenizer and prepared data from the arXiv sample, made once; nullptr without ../shared.
struct Corpus {
  TempDir dir;
  std::string data_dir, config;
};

Corpus* corpus() {
  static std::unique_ptr<Corpus> made = []() -> std::unique_ptr<Corpus> {
    const fs::path sample = testing::shared_dir() / "data/cohan-sample/arxiv";
    if (!fs::exists(sample / "train.txt")) return nullptr;
    auto c = std::make_unique<Corpus>();
    const std::string log = c->dir.file("prepare.log");
    auto run = [&](const std::string& args) {
      return std::system((cli() + " --threads 1 " + args + " > '" + log + "' 2>&1").c_str());
    };
    if (run("tokenizer train --input " + (sample / "train.txt").string() +
            " --vocab-size 400 --train-threads 1 --output " + c->dir.file("spm.model")) != 0)
      return nullptr;
    c->data_dir = c->dir.file("prepared");
    if (run("data prepare --tokenizer " + c->dir.file("spm.model") + " --train " + (sample / "train.txt").string() +
            " --valid " + (sample / "val.txt").string() + " --output " + c->data_dir +
            " --max-source-length 96 --max-target-length 24 --threads 1 --no-progress") != 0)
      return nullptr;
    c->config = c->dir.write("tiny.yaml", R"(model:
  d_model: 16
  attention_heads: 2
  ffn_dim: 32
  encoder_layers: 1
  decoder_layers: 1
  dropout: 0.0
  attention_dropout: 0.0
  max_source_positions: 96
  max_target_positions: 24
  chunk_size: 32
  pooling: {0: 48}
training:
  max_tokens: 240
  lr: 3.0e-3
  warmup_updates: 4
  log_interval: 1
  validate_interval: 0
  validate_at_end: true
  valid_subset_size: 0
  device: cpu
  threads: 1
  seed: 3
)");
    return c;
  }();
  return made.get();
}

#define REQUIRE_CORPUS()                                          \
  REQUIRE_GLOO();                                                 \
  PYRAMIDION_REQUIRE_SHARED("data/cohan-sample/arxiv/train.txt"); \
  Corpus* c = corpus();                                           \
  ASSERT_NE(c, nullptr) << "tokenizer/data preparation failed"

std::vector<std::string> train_args(const Corpus& c, const std::string& save_dir,
                                    const std::vector<std::string>& extra) {
  std::vector<std::string> args{cli(),    "--threads", "1",          "train",  "-c",           c.config,
                                "--data", c.data_dir,  "--save-dir", save_dir, "--no-progress"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// `train --nproc-per-node 2` against one process with update_freq 2: the same records (float32: the per-batch
// gradients are computed identically and summed once either way, so they agree to rounding), the log line shows
// the world size and the all-reduce share, only rank 0 writes, and --resume on 1 process continues with a note.
TEST(DistributedTraining, LauncherMatchesAccumulationAndResumesOnAnotherWorldSize) {
  REQUIRE_CORPUS();
  TempDir dir;
  Child single =
      spawn(train_args(*c, dir.file("single"), {"--set", "training.update_freq=2", "--set", "training.max_updates=6"}),
            {}, dir.file("single.log"));
  ASSERT_TRUE(wait_for(single, 180));
  ASSERT_EQ(exit_code(single), 0) << read_text(dir.file("single.log"));
  Child launcher =
      spawn(train_args(*c, dir.file("dist"),
                       {"--nproc-per-node", "2", "--dist-timeout", "60", "--set", "training.max_updates=6"}),
            {}, dir.file("dist.log"));
  ASSERT_TRUE(wait_for(launcher, 180));
  const std::string log = read_text(dir.file("dist.log"));
  ASSERT_EQ(exit_code(launcher), 0) << log;
  EXPECT_NE(log.find("started 2 worker processes"), std::string::npos) << log;
  EXPECT_NE(log.find("| world 2 | allreduce "), std::string::npos) << log;

  const auto a = train_records(dir.file("single/metrics.jsonl"));
  const auto b = train_records(dir.file("dist/metrics.jsonl"));
  ASSERT_EQ(a.size(), 6u) << read_text(dir.file("single.log"));
  ASSERT_EQ(b.size(), a.size()) << log;  // one writer: no duplicated records
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["target_tokens"], b[i]["target_tokens"]);
    EXPECT_NEAR(a[i]["loss"].get<double>(), b[i]["loss"].get<double>(), 1e-5) << "update " << i + 1;
    EXPECT_NEAR(a[i]["grad_norm"].get<double>(), b[i]["grad_norm"].get<double>(),
                1e-4 * a[i]["grad_norm"].get<double>());
  }
  ASSERT_TRUE(fs::exists(dir.file("dist/checkpoint_last.pt")));

  // Resume the 2-process run on 1 process: same update, a note that the batch order changes.
  Child resumed = spawn(train_args(*c, dir.file("dist"), {"--resume", "--set", "training.max_updates=8"}), {},
                        dir.file("resumed.log"));
  ASSERT_TRUE(wait_for(resumed, 180));
  const std::string resumed_log = read_text(dir.file("resumed.log"));
  ASSERT_EQ(exit_code(resumed), 0) << resumed_log;
  EXPECT_NE(resumed_log.find("written by 2 processes, resumed on 1"), std::string::npos) << resumed_log;
  EXPECT_NE(resumed_log.find("batch order changes"), std::string::npos) << resumed_log;
  const auto c2 = train_records(dir.file("dist/metrics.jsonl"));
  ASSERT_EQ(c2.size(), 8u);
  EXPECT_EQ(c2[6]["update"], 7);
}

// A rank that dies mid-training: the other exits non-zero with a message within --dist-timeout; the checkpoint
// rank 0 had written stays loadable.
TEST(DistributedTraining, KilledRankMakesTheOtherFailWithinTheTimeout) {
  REQUIRE_CORPUS();
  TempDir dir;
  const int port = free_port();
  const double timeout = 20;
  std::vector<Child> ranks;
  for (int rank = 0; rank < 2; ++rank)
    ranks.push_back(spawn(train_args(*c, dir.file("run"),
                                     {"--dist-timeout", "20", "--set", "training.max_updates=100000", "--set",
                                      "training.save_interval_updates=1"}),
                          {{"RANK", std::to_string(rank)},
                           {"WORLD_SIZE", "2"},
                           {"MASTER_ADDR", "127.0.0.1"},
                           {"MASTER_PORT", std::to_string(port)}},
                          dir.file("rank" + std::to_string(rank) + ".log")));
  // Until training is under way (3 updates logged, periodic checkpoints written), at most 120 s.
  const bool started = wait_for_lines(ranks[0], dir.file("run/metrics.jsonl"), 3, 120);
  if (!started) {
    for (auto& r : ranks) wait_for(r, 0);
    FAIL() << read_text(dir.file("rank0.log")) << read_text(dir.file("rank1.log"));
  }
  ::kill(ranks[1].pid, SIGKILL);
  wait_for(ranks[1], 10);
  const auto killed_at = Clock::now();
  EXPECT_TRUE(wait_for(ranks[0], timeout + 15)) << "rank 0 hung after its peer died";
  const double seconds = std::chrono::duration<double>(Clock::now() - killed_at).count();
  const std::string log = read_text(dir.file("rank0.log"));
  EXPECT_NE(exit_code(ranks[0]), 0) << log;
  EXPECT_LT(seconds, timeout + 10);
  EXPECT_NE(log.find("pyramidion: error: rank 0 of 2"), std::string::npos) << log;
  EXPECT_NE(log.find("failed"), std::string::npos) << log;
  // The checkpoints already written are whole: `info` reads each.
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(dir.file("run"))) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint_", 0) != 0 || entry.path().extension() != ".pt") continue;
    Child info = spawn({cli(), "info", entry.path().string()}, {}, dir.file("info.log"));
    ASSERT_TRUE(wait_for(info, 60));
    EXPECT_EQ(exit_code(info), 0) << name << ": " << read_text(dir.file("info.log"));
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

// A rank that hangs (stopped): the other fails after --dist-timeout, not never.
TEST(DistributedTraining, HungRankMakesTheOtherFailAfterTheTimeout) {
  REQUIRE_CORPUS();
  TempDir dir;
  const int port = free_port();
  std::vector<Child> ranks;
  for (int rank = 0; rank < 2; ++rank)
    ranks.push_back(
        spawn(train_args(*c, dir.file("run"), {"--dist-timeout", "8", "--set", "training.max_updates=100000"}),
              {{"RANK", std::to_string(rank)},
               {"WORLD_SIZE", "2"},
               {"MASTER_ADDR", "127.0.0.1"},
               {"MASTER_PORT", std::to_string(port)}},
              dir.file("rank" + std::to_string(rank) + ".log")));
  if (!wait_for_lines(ranks[0], dir.file("run/metrics.jsonl"), 2, 120)) {
    for (auto& r : ranks) wait_for(r, 0);
    FAIL() << read_text(dir.file("rank0.log")) << read_text(dir.file("rank1.log"));
  }
  ::kill(ranks[1].pid, SIGSTOP);
  const auto stopped_at = Clock::now();
  EXPECT_TRUE(wait_for(ranks[0], 8 + 30)) << "rank 0 waited forever for a hung peer";
  EXPECT_GE(std::chrono::duration<double>(Clock::now() - stopped_at).count(), 8 - 1.0);  // it did wait the timeout
  ::kill(ranks[1].pid, SIGKILL);
  wait_for(ranks[1], 10);
  const std::string log = read_text(dir.file("rank0.log"));
  EXPECT_NE(exit_code(ranks[0]), 0) << log;
  EXPECT_NE(log.find("pyramidion: error: rank 0 of 2"), std::string::npos) << log;
}

// ---- two "hosts": one rank per network namespace, over a veth pair only -----------------------------------------

int shell(const std::string& command) {
  const int status = std::system((command + " > /dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct NetworkNamespaces {
  std::string a, b, veth_a, veth_b, address_a = "10.231.7.1", address_b = "10.231.7.2";
  bool made = false;
  NetworkNamespaces() {
    const std::string id = std::to_string(::getpid() % 100000);
    a = "pyr-dist-a-" + id;
    b = "pyr-dist-b-" + id;
    veth_a = "pyva" + id;
    veth_b = "pyvb" + id;
    if (shell("ip netns add " + a) != 0) return;
    made = true;  // from here on the destructor cleans up
    made = shell("ip netns add " + b) == 0 && shell("ip link add " + veth_a + " type veth peer name " + veth_b) == 0 &&
           shell("ip link set " + veth_a + " netns " + a) == 0 && shell("ip link set " + veth_b + " netns " + b) == 0 &&
           shell("ip -n " + a + " addr add " + address_a + "/24 dev " + veth_a) == 0 &&
           shell("ip -n " + b + " addr add " + address_b + "/24 dev " + veth_b) == 0 &&
           shell("ip -n " + a + " link set " + veth_a + " up") == 0 &&
           shell("ip -n " + b + " link set " + veth_b + " up") == 0 && shell("ip -n " + a + " link set lo up") == 0 &&
           shell("ip -n " + b + " link set lo up") == 0;
    if (!made) cleanup();
  }
  void cleanup() {
    shell("ip netns del " + a);
    shell("ip netns del " + b);  // deleting a namespace deletes its veth end, and so the pair
    shell("ip link del " + veth_a);
  }
  ~NetworkNamespaces() {
    if (made) cleanup();
  }
};

TEST(DistributedTraining, TwoHostsInNetworkNamespacesTrainOverVeth) {
  REQUIRE_CORPUS();
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  NetworkNamespaces ns;
  if (!ns.made) GTEST_SKIP() << "cannot create network namespaces and a veth pair here";
  TempDir dir;
  std::vector<Child> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    auto args = train_args(*c, dir.file("run" + std::to_string(rank)),
                           {"--dist-url", "tcp://" + ns.address_a + ":29517", "--rank", std::to_string(rank),
                            "--world-size", "2", "--dist-timeout", "60", "--set", "training.max_updates=4"});
    args.insert(args.begin(), {"/usr/bin/env", "ip", "netns", "exec", rank == 0 ? ns.a : ns.b});
    ranks.push_back(spawn(args, {}, dir.file("rank" + std::to_string(rank) + ".log")));
  }
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_TRUE(wait_for(ranks[rank], 180)) << "rank " << rank;
    EXPECT_EQ(exit_code(ranks[rank]), 0) << read_text(dir.file("rank" + std::to_string(rank) + ".log"));
  }
  const std::string log0 = read_text(dir.file("rank0.log"));
  EXPECT_NE(log0.find("rank 0 of 2 (gloo, master " + ns.address_a + ":29517)"), std::string::npos) << log0;
  EXPECT_EQ(train_records(dir.file("run0/metrics.jsonl")).size(), 4u) << log0;
  EXPECT_FALSE(fs::exists(dir.file("run1/metrics.jsonl")));  // rank 1 writes nothing
}

// ---- options and builds ----------------------------------------------------------------------------------------

TEST(DistributedOptions, UrlAndEnvironmentAreParsedWithClearErrors) {
  DistributedOptions o;
  o.set_url("tcp://10.1.2.3:29400");
  EXPECT_EQ(o.master_addr, "10.1.2.3");
  EXPECT_EQ(o.master_port, 29400);
  o.set_url("tcp://[::1]:1234");
  EXPECT_EQ(o.master_addr, "::1");
  for (const char* bad : {"10.1.2.3:29400", "tcp://host", "tcp://:80", "tcp://h:0", "tcp://h:70000", "tcp://h:1x"})
    EXPECT_THROW(o.set_url(bad), std::invalid_argument) << bad;
  o.world_size = 2;
  o.rank = 2;
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o.rank = 1;
  EXPECT_NO_THROW(o.validate());
  o.backend = "mpi";
  EXPECT_THROW(o.validate(), std::invalid_argument);
}

TEST(DistributedOptions, EqualShardsInterleaveTheGlobalOrder) {
  std::vector<ExampleBatch> batches;
  for (int64_t i = 0; i < 7; ++i) batches.push_back({i});
  const auto r0 = equal_shard_batches(batches, 0, 3), r2 = equal_shard_batches(batches, 2, 3);
  ASSERT_EQ(r0.size(), 2u);
  ASSERT_EQ(r2.size(), 2u);  // batch 6 is left out: every rank has 2
  EXPECT_EQ(r0[1], ExampleBatch{3});
  EXPECT_EQ(r2[1], ExampleBatch{5});
  EXPECT_THROW(equal_shard_batches(batches, 0, 8), std::invalid_argument);
}

}  // namespace
}  // namespace pyramidion
