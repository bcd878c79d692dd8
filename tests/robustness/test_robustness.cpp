// The bad-input campaign, kept fixed: the built `pyramidion` program runs on inputs each test crafts itself, and
// must answer with the requested output on stdout only, a one-line error naming the file/line/field and a
// non-zero exit, and nothing half-written. (Issue 10; the training-side findings live in tests/training.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "pyramidion/data/tokenizer.h"
#include "pyramidion/models/model_file.h"
#include "pyramidion/util/directory_lock.h"
#include "test_support.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code = -1;
  std::string out, err;  // stdout and stderr, apart
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class Robustness : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("pyramidion_robustness_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static std::string write(const std::string& name, const std::string& content) {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }

  // `shell` is a bash command line in which "PYR" stands for the program; stdout/stderr are captured apart
  // unless the command line redirects them itself.
  static CliRun run(const std::string& shell) {
    std::string command = shell;
    const std::string program = "'" + (testing::binary_dir() / "pyramidion").string() + "'";
    for (size_t at; (at = command.find("PYR")) != std::string::npos;) command.replace(at, 3, program);
    const std::string out = path("stdout.txt"), err = path("stderr.txt");
    const std::string line = "timeout 120 bash -c '" + escape(command) + "' > '" + out + "' 2> '" + err + "'";
    const int status = std::system(line.c_str());
    CliRun r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }
  static std::string escape(const std::string& s) {
    std::string e;
    for (char c : s) e += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return e;
  }

  // A tiny model file with a word tokenizer, made once (a second).
  static const std::string& model() {
    static const std::string file = [] {
      const std::string text =
          write("corpus.txt",
                "the cell cycle is regulated by cyclins .\nmutations in these genes cause cancer .\n"
                "patients were followed for five years .\nthe protein increased with age .\n");
      data::TokenizerTrainOptions options;
      options.input_files = {text};
      options.model_type = "word";
      options.vocab_size = 29;
      options.threads = 1;
      auto tokenizer = data::SentencePieceTokenizer::train(options);
      ModelConfig config;
      config.vocab_size = tokenizer.vocab_size();
      config.d_model = 16;
      config.attention_heads = 2;
      config.ffn_dim = 24;
      config.encoder_layers = 2;
      config.decoder_layers = 1;
      config.chunk_size = 8;
      config.pooling.schedule = {{0, 8}};
      config.max_source_positions = 64;
      config.max_target_positions = 16;
      torch::manual_seed(1);
      SummarizationModel m(config);
      const std::string out = path("model.pt");
      save_model_file(out, m, tokenizer.serialized());
      return out;
    }();
    return file;
  }
  // The same word tokenizer as a .model file, for `tokenizer` and `data prepare`.
  static const std::string& word_tokenizer() {
    static const std::string file = [] {
      model();  // writes corpus.txt
      data::TokenizerTrainOptions options;
      options.input_files = {path("corpus.txt")};
      options.model_type = "word";
      options.vocab_size = 29;
      options.threads = 1;
      options.output_path = path("spm-word.model");
      data::SentencePieceTokenizer::train(options);
      return options.output_path;
    }();
    return file;
  }
  static std::string docs() {
    return write("docs.jsonl",
                 "{\"article_id\": \"a\", \"article_text\": [\"the cell cycle is regulated by cyclins .\"], "
                 "\"abstract_text\": [\"<S> the cell cycle . </S>\"]}\n"
                 "{\"article_id\": \"b\", \"article_text\": [\"patients were followed for five years .\"], "
                 "\"abstract_text\": [\"<S> patients were followed . </S>\"]}\n");
  }

  static fs::path dir_;
};
fs::path Robustness::dir_;

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// --- output streams and exit codes --------------------------------------------------------------------------

TEST_F(Robustness, SummarizeStdoutCarriesOnlyTheSummaries) {
  auto r = run("PYR --threads 1 summarize -m '" + model() + "' -i '" + docs() + "' --max-len-b 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 2) << r.out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) EXPECT_NO_THROW((void)nlohmann::json::parse(line)) << line;
  EXPECT_NE(r.err.find("summarized 2 documents"), std::string::npos) << r.err;  // the log line is on stderr
}

TEST_F(Robustness, EvaluateJsonIsTheWholeStdoutEvenWithWarnings) {
  // An example with an empty summary is skipped with a warning: the warning must not precede the JSON.
  const auto data = write(
      "eval.jsonl", slurp(docs()) + "{\"article_id\": \"c\", \"article_text\": [\"x\"], \"abstract_text\": []}\n");
  auto r = run("PYR evaluate --baseline lead-1 --data '" + data + "' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NO_THROW((void)nlohmann::json::parse(r.out)) << r.out;
  EXPECT_NE(r.err.find("warning"), std::string::npos) << r.err;
}

TEST_F(Robustness, AFullDiskOrAClosedStdoutIsAnError) {
  auto r = run("PYR --threads 1 summarize -m '" + model() + "' -i '" + docs() + "' --max-len-b 4 > /dev/full");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("write failed"), std::string::npos) << r.err;
  const auto tokenizer_model = word_tokenizer();
  r = run("echo 'the cell cycle' | PYR tokenizer encode -m '" + tokenizer_model + "' > /dev/full");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("writing standard output"), std::string::npos) << r.err;
  r = run("PYR rouge --pairs '" + write("pairs1.jsonl", "{\"target\": \"a b\", \"prediction\": \"a\"}\n") +
          "' --json >&-");
  EXPECT_NE(r.exit_code, 0) << r.err;
}

TEST_F(Robustness, InputFromAPipeIsReadOnce) {
  auto r = run("PYR --threads 1 summarize -m '" + model() + "' -i <(cat '" + docs() + "') --max-len-b 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 2) << r.out << r.err;
  r = run("cat '" + docs() + "' | PYR --threads 1 summarize -m '" + model() + "' -i /dev/stdin --max-len-b 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 2) << r.out << r.err;
}

// --- crashes, hangs, memory -------------------------------------------------------------------------------

TEST_F(Robustness, DeeplyNestedJsonIsAnErrorNamingTheLine) {
  const std::string deep = std::string(200000, '[') + "\n";
  const auto pairs = write("deep-pairs.jsonl", "{\"target\": \"a\", \"prediction\": \"a\"}\n" + deep);
  auto r = run("PYR rouge --pairs '" + pairs + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("deep-pairs.jsonl:2: invalid JSON: JSON nested deeper than 64 levels"), std::string::npos)
      << r.err;
  const auto docs_file = write("deep-docs.jsonl", "{\"article_text\": " + std::string(100000, '[') + "}\n");
  r = run("PYR --threads 1 summarize --strict -m '" + model() + "' -i '" + docs_file + "' --max-len-b 4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("deep-docs.jsonl:1: JSON nested deeper than 64 levels"), std::string::npos) << r.err;
  r = run("PYR evaluate --baseline lead-3 --format cohan --data '" + docs_file + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nested deeper"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(Robustness, OneHugeRougeLineIsRefusedWithAMessage) {
  std::string huge = "{\"target\": \"";
  for (int i = 0; i < 1 << 20; ++i) huge += "w ";  // 2 MiB
  huge += "\", \"prediction\": \"w\"}\n";
  const auto pairs = write("huge.jsonl", "{\"target\": \"a\", \"prediction\": \"a\"}\n" + huge);
  auto r = run("PYR rouge --pairs '" + pairs + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("huge.jsonl:2: ROUGE: the reference has"), std::string::npos) << r.err;
  // Long but allowed texts whose LCS would be too big are refused too (not minutes of work).
  std::string words;
  for (int i = 0; i < 120000; ++i) words += "w" + std::to_string(i % 7) + " ";
  const auto lcs = write("lcs.jsonl", "{\"target\": \"" + words + "\", \"prediction\": \"" + words + "\"}\n");
  r = run("PYR rouge --pairs '" + lcs + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("lcs.jsonl:1: ROUGE-L:"), std::string::npos) << r.err;
}

TEST_F(Robustness, CountsAreBounded) {
  const auto pairs = write("pairs.jsonl", "{\"target\": \"a b\", \"prediction\": \"a\"}\n");
  for (const char* samples : {"0", "-5", "2000000000"}) {
    auto r = run(std::string("PYR rouge --pairs '") + pairs + "' --bootstrap-samples " + samples);
    EXPECT_NE(r.exit_code, 0) << samples;
    EXPECT_NE(r.err.find("--bootstrap-samples"), std::string::npos) << r.err;
  }
  auto r = run("PYR --threads 100000 rouge --pairs '" + pairs + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--threads"), std::string::npos) << r.err;
  r = run("PYR data prepare --tokenizer '" + word_tokenizer() + "' --train '" + docs() + "' --valid '" + docs() +
          "' -o '" + path("prepared-threads") + "' --threads 100000");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("threads: 100000"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("prepared-threads")));
}

TEST_F(Robustness, LibTorchErrorsAreOneLine) {
  // A device this machine lacks: one line naming the option, no LibTorch backtrace.
  auto r = run("PYR --threads 1 summarize -m '" + model() + "' -i '" + docs() + "' --device cuda:7");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--device cuda:7"), std::string::npos) << r.err;
}

TEST_F(Robustness, ACorruptDatasetIsFoundBeforeTraining) {
  const auto out = path("prepared-corrupt");
  auto r = run("PYR data prepare --tokenizer '" + word_tokenizer() + "' --train '" + docs() + "' --valid '" + docs() +
               "' -o '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {  // flip one bit of the first token id (the tokens start after the 64-byte header)
    std::fstream file(out + "/train.bin", std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(64);
    char c = 0;
    file.read(&c, 1);
    c ^= 0x01;
    file.seekp(64);
    file.write(&c, 1);
  }
  r = run("PYR --threads 1 train --preset tiny-pyramidion --data '" + out + "' --save-dir '" + path("run-corrupt") +
          "' --set training.max_updates=5");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(out + "/train.bin: checksum mismatch"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("frame #"), std::string::npos) << "no LibTorch backtrace: " << r.err;
}

TEST_F(Robustness, ASaveDirectoryHasOneWriterAndStaleTemporaryFilesGo) {
  const auto data = path("prepared-lock");
  auto r = run("PYR data prepare --tokenizer '" + word_tokenizer() + "' --train '" + docs() + "' --valid '" + docs() +
               "' -o '" + data + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto save = path("run-lock");
  const std::string train = "PYR --threads 1 train --preset tiny-pyramidion --data '" + data + "' --save-dir '" + save +
                            "' --no-progress --set training.max_updates=1 --set training.valid_subset_size=0";
  {
    DirectoryLock held(save);  // another writer
    r = run(train);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(save + ": in use by another process (pid " + std::to_string(::getpid()) + ")"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(save + "/metrics.jsonl"));
  }
  // What an interrupted save of a process that no longer runs left behind (pid 4194303: above Linux's pid range).
  write("run-lock/checkpoint_last.pt.tmp.4194303.0", "half a checkpoint");
  r = run(train);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(save + "/checkpoint_last.pt.tmp.4194303.0"));
  EXPECT_TRUE(fs::exists(save + "/checkpoint_last.pt"));
}

TEST_F(Robustness, CheckpointStateIsCheckedAtResume) {
  const auto data = path("prepared-resume");
  auto r = run("PYR data prepare --tokenizer '" + word_tokenizer() + "' --train '" + docs() + "' --valid '" + docs() +
               "' -o '" + data + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto save = path("run-resume");
  const std::string train = "PYR --threads 1 train --preset tiny-pyramidion --data '" + data + "' --save-dir '" + save +
                            "' --no-progress --set training.valid_subset_size=0";
  r = run(train + " --set training.max_updates=2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The best checkpoint is written before the last one (whose state records it).
  ASSERT_TRUE(fs::exists(save + "/checkpoint_best.pt"));
  EXPECT_LE(fs::last_write_time(save + "/checkpoint_best.pt"), fs::last_write_time(save + "/checkpoint_last.pt"));

  const auto last = save + "/checkpoint_last.pt";
  auto contents = read_model_file_contents(last);
  const auto metadata = nlohmann::json::parse(contents.metadata_json);
  const auto state_file = save + "/" + metadata["state_file"].get<std::string>();
  const std::string good_state = slurp(state_file);
  {  // one flipped bit in the optimizer state
    std::string bad = good_state;
    bad[bad.size() / 2] ^= 0x01;
    std::ofstream(state_file, std::ios::binary) << bad;
  }
  r = run(train + " --set training.max_updates=4 --resume");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(state_file + ": checksum mismatch"), std::string::npos) << r.err;
  std::ofstream(state_file, std::ios::binary) << good_state;

  // A state no run can reach (a crafted or damaged metadata section with a valid file checksum).
  auto crafted = metadata;
  crafted["training_state"]["update"] = -5;
  contents.metadata_json = crafted.dump();
  write_model_file_contents(last, contents);
  r = run(train + " --set training.max_updates=4 --resume");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("training state: update: -5 is out of range"), std::string::npos) << r.err;
  crafted["training_state"]["update"] = 2;
  crafted["training_state"]["loss_scale"] = -1.0;
  contents.metadata_json = crafted.dump();
  write_model_file_contents(last, contents);
  r = run(train + " --set training.max_updates=4 --resume");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("loss_scale"), std::string::npos) << r.err;
  contents.metadata_json = metadata.dump();
  write_model_file_contents(last, contents);
  r = run(train + " --set training.max_updates=4 --resume");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(Robustness, DescribeTrainAndBenchResolveSetTheSameWay) {
  const auto data = path("prepared-set");
  auto r = run("PYR data prepare --tokenizer '" + word_tokenizer() + "' --train '" + docs() + "' --valid '" + docs() +
               "' -o '" + data + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, std::string> commands = {
      {"describe", "PYR describe --preset tiny-pyramidion"},
      {"bench", "PYR bench --archs tiny-pyramidion --lengths 64 --steps 1 --warmup 0"},
      {"train", "PYR train --preset tiny-pyramidion --data '" + data + "' --save-dir '" + path("run-set") + "'"}};
  for (const std::string bad : {"bogus=1", "training.lrr=1", "model.d_modle=3", "d_model=abc", "pooling.x=2"}) {
    std::map<std::string, std::string> errors;
    for (const auto& [name, command] : commands) {
      r = run(command + " --set " + bad);
      EXPECT_EQ(r.exit_code, 1) << name << " --set " << bad << ": " << r.err;
      errors[name] = r.err;
    }
    EXPECT_FALSE(errors["describe"].empty());
    EXPECT_EQ(errors["describe"], errors["bench"]) << bad;
    EXPECT_EQ(errors["describe"], errors["train"]) << bad;
  }
  // A good model key and a good training key are accepted by all three (describe shows the model's effect).
  r = run("PYR describe --preset tiny-pyramidion --set d_model=32 --set attention_heads=2 --set training.lr=1e-3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("d_model 32"), std::string::npos) << r.out;
  r = run(commands.at("train") +
          " --set d_model=32 --set attention_heads=2 --set training.lr=1e-3 --set "
          "training.max_updates=1 --set training.valid_subset_size=0 --no-progress");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(Robustness, NonsenseNumbersAreErrorsOrWarnings) {
  for (const char* minutes : {"nan", "-1", "0", "inf"}) {
    auto r = run(std::string("PYR demo --minutes ") + minutes + " --output '" + path("demo-nan") + "'");
    EXPECT_EQ(r.exit_code, 1) << minutes << ": " << r.err;
    EXPECT_NE(r.err.find("--minutes must be a positive number"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(path("demo-nan")));
  }
  const auto data = path("prepared-warmup");
  auto r = run("PYR data prepare --tokenizer '" + word_tokenizer() + "' --train '" + docs() + "' --valid '" + docs() +
               "' -o '" + data + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run("PYR --threads 1 train --preset tiny-pyramidion --data '" + data + "' --save-dir '" + path("run-warmup") +
          "' --no-progress --set training.max_updates=2 --set training.warmup_updates=10 --set "
          "training.valid_subset_size=0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("training.warmup_updates (10) >= training.max_updates (2)"), std::string::npos) << r.err;
  // The tiny model generates at most 15 tokens (max_target_positions 16).
  r = run("PYR --threads 1 summarize -m '" + model() + "' -i '" + docs() + "' --max-len-b 200");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("allow 200 tokens but the model generates at most 15"), std::string::npos) << r.err;
  r = run("PYR --threads 1 summarize --strict -m '" + model() + "' -i '" + docs() + "' --max-len-b 200");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  for (const char* bad : {"--beam 0", "--max-len-a nan", "--max-len-b -1", "--lenpen inf", "--unk-penalty nan"}) {
    r = run("PYR --threads 1 summarize -m '" + model() + "' -i '" + docs() + "' " + bad);
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_EQ(r.out, "") << bad;
  }
}

// --- the command that errors point at ---------------------------------------------------------------------------

TEST_F(Robustness, InfoDescribesAModelFileAndNamesABadOne) {
  auto r = run("PYR info '" + model() + "' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["kind"], "model");
  EXPECT_GT(info["parameters"].get<int64_t>(), 0);
  EXPECT_EQ(info["tokenizer"]["vocab_size"].get<int64_t>(), 29);
  EXPECT_EQ(info["tokenizer"]["special_ids"]["eos"].get<int64_t>(), 3);
  EXPECT_EQ(info["tokenizer"]["checksum"].get<std::string>().rfind("fnv1a64:", 0), 0u) << info["tokenizer"];
  // Typed values, numbers in their shortest round-trip form.
  EXPECT_EQ(info["config"]["d_model"], 16);
  EXPECT_TRUE(info["config"]["scale_embedding"].is_boolean()) << info["config"];
  EXPECT_EQ(info["config"]["dropout"].dump(), "0.1") << info["config"];
  EXPECT_TRUE(info["config"]["pooling"]["flip_right"].is_boolean()) << info["config"];
  r = run("PYR info '" + model() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("parameters: " + std::to_string(info["parameters"].get<int64_t>())), std::string::npos) << r.out;
  const auto bogus = write("bogus.pt", "PYRMODEL but not really a model file");
  r = run("PYR info '" + bogus + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(bogus), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// --- highlight -----------------------------------------------------------------------------------------------

TEST_F(Robustness, HighlightWritesThePageAndTheNumbersAndNamesBadInput) {
  const auto input = docs();
  const std::string page = path("hl.html"), numbers = path("hl.json");
  auto r = run("PYR --threads 1 highlight -m '" + model() + "' -i '" + input + "' --document-index 1 -o '" + page +
               "' --json '" + numbers + "' --max-len-b 6");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");  // both went to files
  const auto j = nlohmann::json::parse(slurp(numbers));
  EXPECT_EQ(j["id"], "b");
  EXPECT_EQ(j["words"].size(), 7u);  // "patients were followed for five years ."
  EXPECT_EQ(j["layers"].size(), 1u);
  EXPECT_NE(slurp(page).find("window.pyramidionHighlight.render"), std::string::npos);
  // No -o and no --json: the page on stdout, nothing else there.
  r = run("PYR --threads 1 highlight -m '" + model() + "' -i '" + input + "' --max-len-b 6");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("<!doctype html>", 0), 0u);
  // --json - : the JSON alone on stdout, from stdin.
  r = run("echo 'the protein increased with age .' | PYR --threads 1 highlight -m '" + model() +
          "' --json - --max-len-b 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["words"].size(), 6u);

  auto expect_error = [&](const std::string& args, const std::string& message) {
    SCOPED_TRACE(args);
    auto e = run("PYR --threads 1 highlight -m '" + model() + "' " + args);
    EXPECT_EQ(e.exit_code, 1);
    EXPECT_EQ(count_lines(e.err), 1) << e.err;
    EXPECT_NE(e.err.find(message), std::string::npos) << e.err;
    EXPECT_EQ(e.out, "");
  };
  expect_error("-i '" + path("missing.jsonl") + "' -o '" + path("x.html") + "'", "missing.jsonl: no such file");
  expect_error("-i '" + input + "' --document-index 2 -o '" + path("x.html") + "'",
               "--document-index 2: " + input + " has 2 documents");
  expect_error("-i '" + input + "' --document-index=-1", "--document-index must be >= 0");
  expect_error("-i '" + write("blank.txt", "the cell .\n   \n") + "' --document-index 1",
               "blank.txt:2: empty document");
  expect_error("-i '" + write("bad.jsonl", "{\"article_text\": 3}\n") + "'",
               "bad.jsonl:1: field \"article_text\" is not a string");
  expect_error("-i '" + input + "' -o - --json -", "cannot both be -");
  EXPECT_FALSE(fs::exists(path("x.html")));
  // An output that is the input is refused before anything is written.
  const std::string before = slurp(input);
  expect_error("-i '" + input + "' -o '" + input + "'", "is also an input");
  EXPECT_EQ(slurp(input), before);
}

TEST_F(Robustness, HighlightOnAModelWithoutPoolingSaysNothingPooled) {
  const std::string vanilla = path("vanilla.pt");
  {
    auto tokenizer = data::SentencePieceTokenizer::from_bytes(load_model_file(model()).tokenizer_bytes);
    ModelConfig config = load_model_file(model()).config;
    config.pooling.schedule.clear();
    torch::manual_seed(2);
    SummarizationModel m(config);
    save_model_file(vanilla, m, tokenizer.serialized());
  }
  auto r = run("PYR --threads 1 highlight -m '" + vanilla + "' -i '" + docs() + "' -o '" + path("vanilla.html") +
               "' --json '" + path("vanilla.json") + "' --max-len-b 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no pooling layers: nothing pooled"), std::string::npos) << r.err;
  EXPECT_FALSE(nlohmann::json::parse(slurp(path("vanilla.json")))["pooled"].get<bool>());
  EXPECT_NE(slurp(path("vanilla.html")).find("nothing pooled"), std::string::npos);
}

// --- nothing lost ---------------------------------------------------------------------------------------------

TEST_F(Robustness, AnOutputThatIsAnInputIsRefused) {
  const auto input = docs();
  const std::string before = slurp(input);
  auto r = run("PYR --threads 1 summarize -m '" + model() + "' -i '" + input + "' -o '" + input + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is also an input"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(input), before);
  // The same file through another spelling.
  r = run("cd '" + dir_.string() + "' && PYR --threads 1 summarize -m model.pt -i ./docs.jsonl -o ../" +
          dir_.filename().string() + "/docs.jsonl");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(slurp(input), before);
  const auto pairs = write("pairs2.jsonl", "{\"target\": \"a b\", \"prediction\": \"a\"}\n");
  r = run("PYR rouge --pairs '" + pairs + "' --per-example '" + pairs + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is also an input"), std::string::npos) << r.err;
  r = run("PYR evaluate --baseline lead-1 --data '" + input + "' --predictions '" + input + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(slurp(input), before);
}

TEST_F(Robustness, DataPrepareReplacesAnExistingDirectoryWhole) {
  word_tokenizer();
  const auto out = path("prepared");
  const std::string prepare = "PYR data prepare --no-progress --tokenizer '" + path("spm-word.model") + "' --train '" +
                              docs() + "' --valid '" + docs() + "'";
  auto r = run(prepare + " --test '" + docs() + "' -o '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(out + "/.pyramidion-dataset")) << "every prepared dataset carries the marker";
  ASSERT_TRUE(fs::exists(out + "/test.bin"));
  r = run(prepare + " -o '" + out + "/'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out + "/train.bin"));
  EXPECT_TRUE(fs::exists(out + "/meta.json"));
  EXPECT_TRUE(fs::exists(out + "/.pyramidion-dataset"));
  EXPECT_FALSE(fs::exists(out + "/test.bin")) << "an old split must not survive next to the new ones";
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find("prepared."), std::string::npos) << entry.path();
  // A failing run leaves the previous output as it was.
  r = run(prepare.substr(0, prepare.find(" --valid")) + " --valid '" + path("missing.jsonl") + "' -o '" + out + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(fs::exists(out + "/train.bin"));
}

// --- issue 21: nothing lost, nothing replaced, nothing exposed -----------------------------------------------------

TEST_F(Robustness, DataPrepareRefusesAnOutputItDidNotWriteAndDeletesNothing) {
  const std::string prepare = "PYR data prepare --no-progress --tokenizer '" + word_tokenizer() + "' --train '" +
                              docs() + "' --valid '" + docs() + "' -o ";
  auto refused = [&](const std::string& command, const std::string& message) {
    const auto r = run(command);
    EXPECT_EQ(r.exit_code, 1) << command << "\n" << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << command << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  };
  // A directory of the user's files.
  fs::create_directories(path("mine"));
  write("mine/notes.txt", "keep me");
  refused(prepare + "'" + path("mine") + "'",
          path("mine") + ": exists and is not a dataset directory from `data prepare`");
  EXPECT_EQ(slurp(path("mine/notes.txt")), "keep me");
  // The input corpus inside the output directory.
  fs::create_directories(path("corpus-dir"));
  const auto inner = write("corpus-dir/docs.jsonl", slurp(docs()));
  refused("PYR data prepare --no-progress --tokenizer '" + word_tokenizer() + "' --train '" + inner + "' --valid '" +
              inner + "' -o '" + path("corpus-dir") + "'",
          path("corpus-dir") + ": holds the input");
  EXPECT_EQ(slurp(inner), slurp(docs()));
  // The current directory.
  fs::create_directories(path("cwd"));
  write("cwd/keep.txt", "mine");
  refused("cd '" + path("cwd") + "' && " + prepare + ".", path("cwd") + ": is the current directory");
  EXPECT_EQ(slurp(path("cwd/keep.txt")), "mine");
  // A regular file, a link to a directory, a FIFO (a device node is refused the same way: not a directory).
  write("plain.out", "a file");
  refused(prepare + "'" + path("plain.out") + "'", path("plain.out") + ": exists and is not a directory");
  EXPECT_EQ(slurp(path("plain.out")), "a file");
  fs::create_directory_symlink(path("mine"), path("mine-link"));
  refused(prepare + "'" + path("mine-link") + "'", path("mine-link") + ": is a symbolic link");
  EXPECT_TRUE(fs::is_symlink(path("mine-link")));
  EXPECT_EQ(slurp(path("mine/notes.txt")), "keep me");
  ASSERT_EQ(::mkfifo(path("prepare.fifo").c_str(), 0600), 0);
  refused(prepare + "'" + path("prepare.fifo") + "'", path("prepare.fifo") + ": exists and is not a directory");
  EXPECT_TRUE(fs::is_fifo(path("prepare.fifo")));
  // An earlier output to which the user added a file of their own: neither is touched.
  const auto earlier = path("prepared-plus");
  ASSERT_EQ(run(prepare + "'" + earlier + "'").exit_code, 0);
  write("prepared-plus/notes.txt", "added by hand");
  refused(prepare + "'" + earlier + "'", earlier + ": holds notes.txt, which `data prepare` did not write");
  EXPECT_EQ(slurp(earlier + "/notes.txt"), "added by hand");
  EXPECT_TRUE(fs::exists(earlier + "/train.bin"));
  // An empty directory (made beforehand) is fine.
  fs::create_directories(path("prepared-empty"));
  ASSERT_EQ(run(prepare + "'" + path("prepared-empty") + "'").exit_code, 0);
  EXPECT_TRUE(fs::exists(path("prepared-empty/train.bin")));
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name.find(".tmp.") == std::string::npos && name.find(".old.") == std::string::npos) << name;
  }
}

TEST_F(Robustness, DataPreparePutsBackWhatAnInterruptedRunLeft) {
  const std::string prepare =
      "PYR data prepare --no-progress --tokenizer '" + word_tokenizer() + "' --train '" + docs() + "' --valid '";
  const auto out = path("prepared-crash");
  ASSERT_EQ(run(prepare + docs() + "' -o '" + out + "'").exit_code, 0);
  // A run that no longer exists (pid 4194303: above Linux's pid range) was killed between moving the previous
  // dataset aside and moving its own in: no dataset at `out`, the previous one aside, its staging directory beside.
  const std::string dead = ".4194303";
  fs::rename(out, out + ".old" + dead);
  fs::create_directories(out + ".tmp" + dead);
  write("prepared-crash.tmp" + dead + "/.pyramidion-dataset", "");
  write("prepared-crash.tmp" + dead + "/train.bin.tmp.4194303.0", "half a split");
  // Something of the same name that `data prepare` did not write is left alone.
  fs::create_directories(out + ".tmp.4194302");
  write("prepared-crash.tmp.4194302/mine.txt", "not a dataset");
  // Even a run that fails afterwards (a missing input) first puts the previous dataset back.
  auto r = run(prepare + path("missing.jsonl") + "' -o '" + out + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(fs::exists(out + "/train.bin")) << r.err;
  EXPECT_FALSE(fs::exists(out + ".old" + dead));
  EXPECT_FALSE(fs::exists(out + ".tmp" + dead));
  EXPECT_EQ(slurp(out + ".tmp.4194302/mine.txt"), "not a dataset");
  r = run(prepare + docs() + "' -o '" + out + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out + "/train.bin"));
  EXPECT_TRUE(fs::exists(out + ".tmp.4194302/mine.txt"));
}

// A character device like /dev/full or /dev/null made in the test directory (root), so that a writer that replaced
// device nodes could only ever replace this copy; else the real one when that is safe (not root: nobody can replace
// it); else "" (the case is skipped).
std::string device_node(const std::string& copy, unsigned minor, const std::string& real) {
  if (::mknod(copy.c_str(), S_IFCHR | 0666, makedev(1, minor)) == 0) {
    const int fd = ::open(copy.c_str(), O_WRONLY);  // a nodev mount refuses it
    if (fd >= 0) {
      ::close(fd);
      return copy;
    }
  }
  return ::geteuid() != 0 ? real : "";
}

TEST_F(Robustness, OutputsToFifosDevicesAndLinksAreWrittenThroughNotReplaced) {
  word_tokenizer();  // writes corpus.txt
  const auto pairs = write("pairs-out.jsonl", "{\"target\": \"a b\", \"prediction\": \"a\"}\n");
  const std::string rouge = "PYR rouge --pairs '" + pairs + "' --per-example ";
  // A FIFO with a reader: the reader gets the rows (within 10 s), the FIFO stays a FIFO.
  const auto fifo = path("per-example.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = run("timeout 10 cat '" + fifo + "' > '" + path("fifo-read.jsonl") + "' & " + rouge + "'" + fifo +
               "'; code=$?; wait; exit $code");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(path("fifo-read.jsonl")).find("\"rouge1\""), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_fifo(fifo));
  // A symbolic link to a regular file: the target is replaced, the link kept.
  write("per-example-target.jsonl", "old rows\n");
  fs::create_symlink("per-example-target.jsonl", path("per-example-link.jsonl"));
  r = run(rouge + "'" + path("per-example-link.jsonl") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(path("per-example-link.jsonl")));
  EXPECT_EQ(fs::read_symlink(path("per-example-link.jsonl")), "per-example-target.jsonl");
  EXPECT_NE(slurp(path("per-example-target.jsonl")).find("\"rouge1\""), std::string::npos);
  // A dangling link: its target is created.
  fs::create_symlink("per-example-new.jsonl", path("per-example-dangling.jsonl"));
  r = run(rouge + "'" + path("per-example-dangling.jsonl") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(path("per-example-dangling.jsonl")));
  EXPECT_NE(slurp(path("per-example-new.jsonl")).find("\"rouge1\""), std::string::npos);
  // This process's stdout (a pipe) through /proc/self/fd/1, and through a link to it (like /dev/stdout, made here
  // so that a writer that replaced links could only replace this one): the rows reach it.
  fs::create_symlink("/proc/self/fd/1", path("stdout-link"));
  for (const std::string& stdout_link : {std::string("/proc/self/fd/1"), path("stdout-link")}) {
    r = run("set -o pipefail; " + rouge + "'" + stdout_link + "' | cat");
    EXPECT_EQ(r.exit_code, 0) << stdout_link << ": " << r.err;
    EXPECT_NE(r.out.find("{\"rouge1\":{\"precision\":"), std::string::npos) << stdout_link << ": " << r.out;
  }
  // A device: /dev/null takes the rows; /dev/full is a one-line error naming it, and stays a device.
  if (const auto null = device_node(path("null"), 3, "/dev/null"); !null.empty()) {
    r = run(rouge + "'" + null + "'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::is_character_file(null));
  }
  if (const auto full = device_node(path("full"), 7, "/dev/full"); !full.empty()) {
    const std::string tokenizer_train = "PYR tokenizer train --input '" + path("corpus.txt") +
                                        "' --format plain --vocab-size 29 --model-type word --output '" + full + "'";
    for (const std::string& command : {rouge + "'" + full + "'", tokenizer_train}) {
      r = run(command);
      EXPECT_EQ(r.exit_code, 1) << command;
      EXPECT_NE(r.err.find(full + ": write failed (No space left on device)"), std::string::npos) << r.err;
      EXPECT_EQ(count_lines(r.err), 1) << r.err;
      EXPECT_TRUE(fs::is_character_file(full));
    }
  }
  EXPECT_TRUE(fs::is_symlink(path("stdout-link")));
  const std::regex temporary(R"(\.tmp\.\d+\.\d+$)");  // NAME.tmp.PID.N of util/atomic_file.h
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_FALSE(std::regex_search(entry.path().filename().string(), temporary)) << entry.path();
}

TEST_F(Robustness, AReadErrorIsAnErrorNamingTheFileAndLineNotTheEndOfTheInput) {
  const auto tokenizer = word_tokenizer();
  const std::string directory = dir_.string();
  // /proc/self/mem fails its first read (EIO); a directory opens but every read fails (EISDIR; summarize refuses a
  // directory before reading it).
  auto r = run("PYR --threads 1 summarize -m '" + model() + "' -i /proc/self/mem --max-len-b 4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("pyramidion: error: /proc/self/mem:1: read error (Input/output error)"), std::string::npos)
      << r.err;
  for (const std::string& input : {directory, std::string("/proc/self/mem")}) {
    r = run("PYR rouge --pairs '" + input + "'");
    EXPECT_EQ(r.exit_code, 1) << input;
    EXPECT_NE(r.err.find(input + ":1: read error ("), std::string::npos) << r.err;
  }
  // Standard input from a directory (tokenizer encode reads stdin).
  r = run("PYR tokenizer encode -m '" + tokenizer + "' < '" + directory + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stdin:1: read error (Is a directory)"), std::string::npos) << r.err;
  r = run("PYR data prepare --no-progress --format jsonl --tokenizer '" + tokenizer +
          "' --train /proc/self/mem "
          "--valid '" +
          docs() + "' -o '" + path("prepared-eio") + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/proc/self/mem:1: read error (Input/output error)"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("prepared-eio")));
}

TEST_F(Robustness, ALockFileThatIsALinkIsRefusedAndItsTargetKept) {
  const auto save = path("run-linked-lock");
  fs::create_directories(save);
  const auto target = write("precious.txt", "not a lock");
  fs::create_symlink(target, save + "/.lock");
  std::string error = "(no error)";
  try {
    DirectoryLock lock(save);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  EXPECT_EQ(error, save + "/.lock: is a symbolic link; a lock file must be a regular file (remove the link)");
  EXPECT_EQ(slurp(target), "not a lock");
  EXPECT_TRUE(fs::is_symlink(save + "/.lock"));
}

TEST_F(Robustness, AMetricsLogThatCannotBeWrittenStopsTrainingWithAnError) {
  const auto data = path("prepared-metrics");
  ASSERT_EQ(run("PYR data prepare --no-progress --tokenizer '" + word_tokenizer() + "' --train '" + docs() +
                "' --valid '" + docs() + "' -o '" + data + "'")
                .exit_code,
            0);
  const auto save = path("run-full-metrics");
  fs::create_directories(save);
  const auto full = device_node(save + "/metrics.jsonl", 7, "");
  if (full.empty()) GTEST_SKIP() << "no private /dev/full copy can be made here";
  auto r = run("PYR --threads 1 train --preset tiny-pyramidion --data '" + data + "' --save-dir '" + save +
               "' --no-progress --set training.max_updates=2 --set training.log_interval=1 "
               "--set training.valid_subset_size=0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(full + ": write failed (No space left on device)"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_character_file(full));
}

TEST_F(Robustness, AMaximumLengthThatOverflowsIsCappedNotEmpty) {
  // max_target_positions 16: at most 15 tokens. A huge --max-len-a or --max-len-b overflowed int64 into a negative
  // length and every summary came out empty, under a warning that said "capped".
  const std::string summarize = "PYR --threads 1 summarize -m '" + model() + "' -i '" + docs() + "' --min-len 2 ";
  const auto capped = run(summarize + "--max-len-b 15");
  ASSERT_EQ(capped.exit_code, 0) << capped.err;
  ASSERT_EQ(count_lines(capped.out), 2);
  EXPECT_EQ(capped.out.find("\"summary\":\"\""), std::string::npos) << capped.out;
  for (const std::string& lengths :
       {"--max-len-a 1e300", "--max-len-b 9223372036854775807", "--max-len-a 1e18 --max-len-b 9223372036854775000"}) {
    const auto r = run(summarize + lengths);
    EXPECT_EQ(r.exit_code, 0) << lengths << ": " << r.err;
    EXPECT_EQ(r.out, capped.out) << lengths;
    EXPECT_NE(r.err.find("capped"), std::string::npos) << r.err;
  }
}

// --- issue 10, the rest -------------------------------------------------------------------------------------------

TEST_F(Robustness, DescribeRefusesSizesThatOverflowAndNegativeLengths) {
  auto r =
      run("PYR describe --preset tiny-pyramidion --set d_model=4000000000 --set attention_heads=1 "
          "--set ffn_dim=4000000000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the count overflows int64"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.out, "");
  // Countable, but not worth 100+ GiB of weights just to count them.
  r = run("PYR describe --preset tiny-pyramidion --set d_model=65536 --set attention_heads=1 --set ffn_dim=1000000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("too large to build"), std::string::npos) << r.err;
  for (const char* bad :
       {"--source-length -5", "--target-length -1", "--bytes-per-element 0", "--bytes-per-element -4"}) {
    r = run(std::string("PYR describe --preset tiny-pyramidion ") + bad);
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find(std::string(bad).substr(0, std::string(bad).find(' '))), std::string::npos)
        << bad << ": " << r.err;
    EXPECT_EQ(r.out, "") << bad;
  }
}

TEST_F(Robustness, APartialModelSectionMergesOntoItsPresetOrSaysWhatItDefaults) {
  const auto merged =
      write("partial-preset.yaml", "model:\n  preset: tiny-pyramidion\n  d_model: 32\n  attention_heads: 2\n");
  auto r = run("PYR describe -c '" + merged + "' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto expected = run("PYR describe --preset tiny-pyramidion --set d_model=32 --set attention_heads=2 --json");
  ASSERT_EQ(expected.exit_code, 0) << expected.err;
  EXPECT_EQ(r.out, expected.out);  // the preset's lengths, layers and pooling, with the file's two keys
  EXPECT_NE(r.err.find("model: preset tiny-pyramidion with 2 keys of the file on top"), std::string::npos) << r.err;
  const auto partial = write("partial.yaml", "model:\n  d_model: 32\n  attention_heads: 2\n");
  r = run("PYR describe -c '" + partial + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("partial.yaml: model: ffn_dim, encoder_layers, decoder_layers, max_source_positions, "
                       "max_target_positions, chunk_size, pooling not set, so the built-in defaults apply"),
            std::string::npos)
      << r.err;
  const auto unknown = write("partial-unknown.yaml", "model:\n  preset: tiny-pyramidon\n");
  r = run("PYR describe -c '" + unknown + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("partial-unknown.yaml: model.preset: "), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST_F(Robustness, DivergenceStopsWithExitThreeAndKeepsTheLastGoodCheckpoint) {
  const auto data = path("prepared-diverge");
  auto r = run("PYR data prepare --tokenizer '" + word_tokenizer() + "' --train '" + docs() + "' --valid '" + docs() +
               "' -o '" + data + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto save = path("run-diverge");
  const std::string train = "PYR --threads 1 train --preset tiny-pyramidion --data '" + data + "' --save-dir '" + save +
                            "' --no-progress --set training.valid_subset_size=0";
  r = run(train + " --set training.lr=.inf");  // YAML's infinity (a bare "inf" is not a YAML number)
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("training.lr: must be a finite number"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(save + "/checkpoint_last.pt"));
  r = run(train + " --set training.max_updates=2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A finite but absurd rate: update 3 is applied and wrecks the weights; its validation loss is NaN.
  r = run(train +
          " --resume --set training.max_updates=10 --set training.lr=1e30 --set training.warmup_updates=0 "
          "--set training.validate_interval=1");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("training diverged: the validation loss after update 3 is not finite; " + save +
                       "/checkpoint_last.pt keeps the last good update"),
            std::string::npos)
      << r.err;
  const auto last = load_model_file(save + "/checkpoint_last.pt");
  EXPECT_EQ(last.metadata["training_state"]["update"], 2);
  r = run(train + " --resume --set training.max_updates=3");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(load_model_file(save + "/checkpoint_last.pt").metadata["training_state"]["update"], 3);
}

TEST_F(Robustness, NanInfAndNegativeNumericOptionsAreErrors) {
  const auto pairs = write("pairs-num.jsonl", "{\"target\": \"a b\", \"prediction\": \"a\"}\n");
  // Each case names an option the command line does not give already.
  const std::string bench = "PYR --threads 1 bench --archs tiny-pyramidion --warmup 0 --no-inference";
  const std::string prepare = "PYR data prepare --tokenizer '" + word_tokenizer() + "' --train '" + docs() +
                              "' --valid '" + docs() + "' -o '" + path("prepared-num") + "'";
  const std::string tokenizer = "PYR tokenizer train --input '" + path("corpus.txt") +
                                "' --model-type word --output '" + path("spm-num.model") + "'";
  struct Case {
    std::string command, option, value;
  };
  const std::vector<Case> cases = {
      {"PYR describe --preset tiny-pyramidion", "--source-length", "-1"},
      {bench + " --lengths 64 --steps 1", "--lr", "nan"},
      {bench + " --lengths 64 --steps 1", "--lr", "inf"},
      {bench + " --lengths 64 --steps 1", "--max-seconds", "nan"},
      {bench + " --lengths 64 --steps 1", "--max-memory-gb", "-1"},
      {bench + " --steps 1", "--lengths", "64,-8"},
      {bench + " --lengths 64", "--steps", "0"},
      {"PYR bench topk --batch 1 -n 64 -k 8 --repetitions 1", "--dim", "-2"},
      {"PYR bench serve -m '" + model() + "' --requests 1 --clients 1", "--deadline-s", "nan"},
      {"PYR evaluate --baseline lead-1 --data '" + docs() + "'", "--max-docs", "-1"},
      {"PYR rouge --pairs '" + pairs + "' --bootstrap-samples 10", "--confidence", "nan"},
      {"PYR --threads 1 summarize -m '" + model() + "' -i '" + docs() + "' --max-len-b 4", "--chunk", "-3"},
      {"PYR serve -m '" + model() + "'", "--timeout-s", "nan"},
      {"PYR serve -m '" + model() + "'", "--shutdown-grace-s", "inf"},
      {prepare, "--max-errors", "-1"},
      {prepare, "--max-source-length", "-3"},
      {tokenizer + " --vocab-size 29", "--character-coverage", "nan"},
      {tokenizer, "--vocab-size", "-5"},
      {tokenizer + " --vocab-size 29", "--train-threads", "-1"},
  };
  for (const auto& c : cases) {
    auto r = run(c.command + " " + c.option + " " + c.value);
    EXPECT_NE(r.exit_code, 0) << c.command << " " << c.option << " " << c.value << ": " << r.err;
    EXPECT_NE(r.err.find(c.option), std::string::npos) << c.option << " " << c.value << ": " << r.err;
    EXPECT_EQ(r.out, "") << c.option << " " << c.value;
  }
  EXPECT_FALSE(fs::exists(path("prepared-num")));
  EXPECT_FALSE(fs::exists(path("spm-num.model")));
}

TEST_F(Robustness, TokenizersFromSpmTrainWorkWithTheirIdsOrAreRefusedAndOtherPiecesAreFound) {
  model();  // writes corpus.txt
  const std::string spm = "spm_train --input='" + path("corpus.txt") +
                          "' --model_type=word --hard_vocab_limit=false "
                          "--user_defined_symbols='<sep>' ";
  if (run("command -v spm_train").exit_code != 0) GTEST_SKIP() << "spm_train (Debian package sentencepiece) absent";
  // Plain spm_train: no pad piece. Refused at `data prepare` with what to do.
  ASSERT_EQ(run(spm + "--vocab_size=28 --model_prefix='" + path("spm-plain") + "'").exit_code, 0);
  auto r = run("PYR data prepare --tokenizer '" + path("spm-plain.model") + "' --train '" + docs() + "' --valid '" +
               docs() + "' -o '" + path("prepared-plain") + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("spm-plain.model: the tokenizer has no pad piece"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--pad_id"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("prepared-plain")));

  // With a pad piece its own ids (unk 0, bos 1, eos 2, pad 3) are used and stored in the model file.
  ASSERT_EQ(run(spm + "--vocab_size=29 --pad_id=3 --model_prefix='" + path("spm-own") + "'").exit_code, 0);
  const auto data = path("prepared-own");
  r = run("PYR data prepare --tokenizer '" + path("spm-own.model") + "' --train '" + docs() + "' --valid '" + docs() +
          "' -o '" + data + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto save = path("run-own");
  const std::string train = "PYR --threads 1 train --preset tiny-pyramidion --data '" + data + "' --save-dir '" + save +
                            "' --no-progress --set training.valid_subset_size=0";
  r = run(train + " --set training.max_updates=2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto last = save + "/checkpoint_last.pt";
  auto info = run("PYR info '" + last + "' --json");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto described = nlohmann::json::parse(info.out);
  EXPECT_EQ(described["config"]["source_sentence_separators"], false);  // prepared without --source-sep
  EXPECT_EQ(described["config"]["pad_id"], 3);
  EXPECT_EQ(described["config"]["bos_id"], 1);
  EXPECT_EQ(described["config"]["eos_id"], 2);
  {
    // config.yaml holds numbers as written: 0.1, never 0.10000000000000001.
    std::ifstream in(save + "/config.yaml");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("label_smoothing: 0.1\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("0000000"), std::string::npos) << text;
  }
  r = run("PYR --threads 1 summarize -m '" + last + "' -i '" + docs() + "' --max-len-b 4");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 2) << r.out;
  {
    // Data prepared with --source-sep: the trained model records the framing (and applies it at inference).
    const auto sep_data = path("prepared-sep"), sep_save = path("run-sep");
    r = run("PYR data prepare --source-sep --tokenizer '" + path("spm-own.model") + "' --train '" + docs() +
            "' --valid '" + docs() + "' -o '" + sep_data + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run("PYR --threads 1 train --preset tiny-pyramidion --data '" + sep_data + "' --save-dir '" + sep_save +
            "' --no-progress --set training.valid_subset_size=0 --set training.max_updates=1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto sep_info = run("PYR info '" + sep_save + "/checkpoint_last.pt' --json");
    ASSERT_EQ(sep_info.exit_code, 0) << sep_info.err;
    EXPECT_EQ(nlohmann::json::parse(sep_info.out)["config"]["source_sentence_separators"], true) << sep_info.out;
  }

  // Same vocabulary size, other pieces: the data was prepared with another tokenizer than the one beside it ...
  const std::string other_corpus = write("corpus-other.txt",
                                         "one two three four five six seven eight nine ten .\n"
                                         "alpha beta gamma delta epsilon zeta eta theta iota .\n"
                                         "red green blue black white .\n");
  ASSERT_EQ(run("spm_train --input='" + other_corpus +
                "' --model_type=word --hard_vocab_limit=false "
                "--user_defined_symbols='<sep>' --vocab_size=29 --pad_id=3 --model_prefix='" +
                path("spm-other") + "'")
                .exit_code,
            0);
  const auto mixed = path("prepared-mixed");
  fs::create_directories(mixed);
  for (const char* f : {"train.bin", "valid.bin"}) fs::copy_file(data + "/" + f, mixed + "/" + f);
  fs::copy_file(path("spm-other.model"), mixed + "/spm.model");
  r = run("PYR --threads 1 train --preset tiny-pyramidion --data '" + mixed + "' --save-dir '" + path("run-mixed") +
          "' --no-progress --set training.max_updates=1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(mixed + "/train.bin: prepared with another tokenizer (fnv1a64:"), std::string::npos) << r.err;
  // ... and a run resumed on data of another tokenizer is refused.
  const auto other_data = path("prepared-other");
  ASSERT_EQ(run("PYR data prepare --tokenizer '" + path("spm-other.model") + "' --train '" + docs() + "' --valid '" +
                docs() + "' -o '" + other_data + "'")
                .exit_code,
            0);
  r = run("PYR --threads 1 train --preset tiny-pyramidion --data '" + other_data + "' --save-dir '" + save +
          "' --no-progress --set training.valid_subset_size=0 --set training.max_updates=4 --resume");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(last + ": the checkpoint was trained with another tokenizer"), std::string::npos) << r.err;

  // A model file whose config ids are not its tokenizer's is refused at load.
  auto contents = read_model_file_contents(last);
  const std::string from = "pad_id: 3", to = "pad_id: 4";
  ASSERT_NE(contents.config_yaml.find(from), std::string::npos) << contents.config_yaml;
  contents.config_yaml.replace(contents.config_yaml.find(from), from.size(), to);
  write_model_file_contents(path("wrong-ids.pt"), contents);
  r = run("PYR --threads 1 summarize -m '" + path("wrong-ids.pt") + "' -i '" + docs() + "' --max-len-b 4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the model's special ids (pad 4, bos 1, eos 2) are not its tokenizer's (pad 3, bos 1, eos 2)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
  // And one whose embedded tokenizer was swapped (same size) no longer matches its recorded checksum.
  contents = read_model_file_contents(last);
  contents.tokenizer_bytes = slurp(path("spm-other.model"));
  write_model_file_contents(path("swapped.pt"), contents);
  r = run("PYR --threads 1 summarize -m '" + path("swapped.pt") + "' -i '" + docs() + "' --max-len-b 4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the embedded tokenizer's checksum"), std::string::npos) << r.err;
}

// --- issue 21 ------------------------------------------------------------------------------------------------

// Finding 8: a model file whose metadata nests JSON thousands deep crashed `info` (and the server's /v1/model);
// now loading it is a one-line error naming the file. A directory or NaN weights name what is wrong, too.
TEST_F(Robustness, DeeplyNestedMetadataNaNWeightsAndADirectoryAreOneLineErrorsNamingTheModel) {
  auto contents = read_model_file_contents(model());
  contents.metadata_json = "{\"deep\": " + std::string(20000, '[') + std::string(20000, ']') + "}";
  const auto deep = path("deep-metadata.pt");
  write_model_file_contents(deep, contents);
  for (const std::string& command : {"PYR info '" + deep + "'", "PYR info '" + deep + "' --json",
                                     "PYR --threads 1 summarize -m '" + deep + "' -i '" + docs() + "'"}) {
    auto r = run(command);
    EXPECT_EQ(r.exit_code, 1) << command << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(deep + ": metadata: JSON nested deeper than 64 levels"), std::string::npos) << r.err;
  }
  auto r = run("PYR info '" + dir_.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("basic_filebuf"), std::string::npos) << r.err;

  {  // a diverged model: every weight NaN
    auto m = load_model_file(model());
    torch::NoGradGuard no_grad;
    for (auto& p : m.model->parameters()) p.fill_(std::numeric_limits<double>::quiet_NaN());
    data::SentencePieceTokenizer tokenizer = data::SentencePieceTokenizer::from_bytes(m.tokenizer_bytes);
    save_model_file(path("nan.pt"), m.model, tokenizer.serialized());
  }
  r = run("PYR --threads 1 summarize -m '" + path("nan.pt") + "' -i '" + docs() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(path("nan.pt") + ": weights: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("NaN or Inf"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("scores contain NaN"), std::string::npos) << r.err;
}

// Finding 8: `bench serve --clients 0` aborted; options that exhaust threads or memory are bounded.
TEST_F(Robustness, ClientThreadAndBeamCountsAreBounded) {
  struct Case {
    std::string command, option;
  };
  const std::vector<Case> cases = {
      {"PYR bench serve -m '" + model() + "' --requests 1 --clients 0", "--clients"},
      {"PYR bench serve -m '" + model() + "' --requests 1 --clients 1,0", "--clients"},
      {"PYR --threads 1 summarize -m '" + model() + "' -i '" + docs() + "' --beam 1e5", "--beam"},
      {"PYR --threads 1 summarize -m '" + model() + "' -i '" + docs() + "' --beam 100000", "--beam"},
      {"PYR describe --preset tiny-pyramidion --set training.threads=100000", "training.threads"},
      {"PYR describe --preset tiny-pyramidion --set training.update_freq=1000000000", "training.update_freq"},
  };
  for (const auto& c : cases) {
    auto r = run(c.command);
    EXPECT_NE(r.exit_code, 0) << c.command << ": " << r.err;
    EXPECT_LT(r.exit_code, 128) << c.command << ": " << r.err;  // an error, not a signal (abort)
    EXPECT_NE(r.err.find(c.option), std::string::npos) << c.command << ": " << r.err;
    EXPECT_EQ(r.out, "") << c.command;
  }
}

// Low items: a misspelt top-level section, a key given twice and a second YAML document are refused, naming them.
TEST_F(Robustness, ConfigFilesWithUnknownSectionsDuplicateKeysOrTwoDocumentsAreRefused) {
  const std::string model_section = "model:\n  preset: tiny-pyramidion\n";
  struct Case {
    std::string yaml, expected;
  };
  const std::vector<Case> cases = {
      {model_section + "trainig:\n  lr: 0.001\n", "unknown top-level section 'trainig'"},
      {model_section + "training:\n  lr: 0.001\n  lr: 0.1\n", "duplicate key 'lr' (line 5)"},
      {model_section + "model:\n  d_model: 8\n", "duplicate key 'model'"},
      {model_section + "---\ntraining:\n  lr: 0.1\n", "a second YAML document"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto file = write("strict-" + std::to_string(i) + ".yaml", cases[i].yaml);
    auto r = run("PYR describe -c '" + file + "'");
    EXPECT_EQ(r.exit_code, 1) << cases[i].yaml << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(file + ": " + cases[i].expected), std::string::npos) << r.err;
  }
  auto r = run("PYR describe -c '" + write("strict-ok.yaml", model_section + "training:\n  lr: 0.001\n") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Low items: the same path for both highlight outputs, a directory as summarize's input, a UTF-8 byte order mark.
TEST_F(Robustness, SameOutputTwiceADirectoryInputAndAByteOrderMark) {
  const auto page = path("same-output");
  auto r =
      run("PYR --threads 1 highlight -m '" + model() + "' -i '" + docs() + "' -o '" + page + "' --json '" + page + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("-o and --json name the same file"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(page));

  r = run("PYR --threads 1 summarize -m '" + model() + "' -i '" + dir_.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir_.string() + ": is a directory"), std::string::npos) << r.err;

  const auto bom = write("bom.jsonl", "\xEF\xBB\xBF" + slurp(docs()));
  r = run("PYR --threads 1 summarize -m '" + model() + "' -i '" + bom + "' --output-format jsonl --max-len-b 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string first;
  std::getline(lines, first);
  EXPECT_EQ(nlohmann::json::parse(first)["id"], "a") << r.out;
}

}  // namespace
}  // namespace pyramidion
