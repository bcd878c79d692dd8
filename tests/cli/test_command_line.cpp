// The command line as a user meets it: usage errors name the unknown word (with the closest command or option) on
// one line and exit 2; global options work after the subcommand; --help exits 0; --version names the LibTorch,
// CUDA and the distributed backends; the bash completion script completes commands, nested commands and options.
#include <gtest/gtest.h>

#include <string>

#include <torch/version.h>

#include "cli_runner.h"
#include "test_support.h"

namespace pyramidion {
namespace {

using testing::CommandResult;
using testing::run_cli;
using testing::run_shell;

size_t lines_of(const std::string& text) {
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

TEST(CommandLine, UsageErrorsNameTheWordOnOneLineAndExitTwo) {
  CommandResult r = run_cli("summarize --bogus");  // CLI11 alone would say "--model is required"
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(lines_of(r.output), 1u) << r.output;
  EXPECT_NE(r.output.find("pyramidion: error: unknown option '--bogus' for 'summarize'"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("pyramidion summarize --help"), std::string::npos) << r.output;

  r = run_cli("summarize --beem 4");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("did you mean '--beam'?"), std::string::npos) << r.output;

  r = run_cli("summarise -m x.pt");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(lines_of(r.output), 1u) << r.output;
  EXPECT_NE(r.output.find("unknown command 'summarise'; did you mean 'summarize'?"), std::string::npos) << r.output;

  r = run_cli("data prepair");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("'prepare'"), std::string::npos) << r.output;

  r = run_cli("summarize");  // a missing required option is a usage error too
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--model"), std::string::npos) << r.output;

  r = run_cli("summarize --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--beam"), std::string::npos);
}

TEST(CommandLine, GlobalOptionsAreAcceptedAfterTheSubcommand) {
  // The error is about the model, so --threads was taken (before: "not expected: 1 --threads").
  CommandResult r = run_cli("summarize -m /nonexistent/model.pt --threads 1 --log-level warn -i /dev/null");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/model.pt: no such model file"), std::string::npos) << r.output;
  r = run_cli("summarize -m /nonexistent/model.pt --threads -3 -i /dev/null");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--threads"), std::string::npos) << r.output;
}

TEST(CommandLine, VersionNamesLibTorchCudaAndTheDistributedBackends) {
  const CommandResult r = run_cli("--version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("pyramidion 0.1.0\n", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("LibTorch " + std::to_string(TORCH_VERSION_MAJOR)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CUDA: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("distributed backends: "), std::string::npos) << r.output;
}

// Runs the generated completion function for the words typed so far; returns COMPREPLY, space-separated.
std::string complete(const std::string& words) {
  const std::string script = (testing::binary_dir() / "pyramidion").string();
  const CommandResult r =
      run_shell("bash -c 'source <(\"" + script + "\" completion bash) && COMP_WORDS=(" + words +
                ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _pyramidion && echo \"${COMPREPLY[*]}\"' 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

TEST(CommandLine, BashCompletionCompletesCommandsNestedCommandsAndOptions) {
  EXPECT_EQ(complete("pyramidion summ"), "summarize\n");
  EXPECT_EQ(complete("pyramidion data prep"), "prepare\n");
  EXPECT_EQ(complete("pyramidion summarize --be"), "--beam\n");
  EXPECT_EQ(complete("pyramidion data prepare --tokeni"), "--tokenizer\n");
  EXPECT_EQ(complete("pyramidion summarize --thr"), "--threads\n");  // a global option, after the subcommand
  EXPECT_NE(complete("pyramidion \"\"").find("train"), std::string::npos);
}

}  // namespace
}  // namespace pyramidion
