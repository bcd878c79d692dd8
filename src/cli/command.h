#pragma once
// Subcommand registry: each src/cli/*.cpp registers itself with PYRAMIDION_COMMAND, so adding a
// subcommand touches one file.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace pyramidion::cli {

// Adds the subcommand to `app` and sets its callback. Runs in registration order.
using CommandSetup = std::function<void(CLI::App& app)>;

struct CommandEntry {
  std::string name;
  CommandSetup setup;
};

std::vector<CommandEntry>& command_registry();

inline bool register_command(std::string name, CommandSetup setup) {
  command_registry().push_back({std::move(name), std::move(setup)});
  return true;
}

// Options every subcommand shares (threads, log level); applied before the command runs.
struct GlobalOptions {
  int threads = 0;  // 0 = from the machine / $PYRAMIDION_THREADS
  std::string log_level = "info";
};
GlobalOptions& global_options();

// `pyramidion --version`: the version, the LibTorch it runs on, CUDA, and the distributed backends built in.
std::string version_text();

// Throw this from a command to exit with `code` after printing `message` on one line.
struct CommandError : std::runtime_error {
  explicit CommandError(const std::string& message, int code = 1) : std::runtime_error(message), exit_code(code) {}
  int exit_code;
};

}  // namespace pyramidion::cli

#define PYRAMIDION_CLI_CONCAT_(a, b) a##b
#define PYRAMIDION_CLI_CONCAT(a, b) PYRAMIDION_CLI_CONCAT_(a, b)
// Usage at namespace scope: PYRAMIDION_COMMAND("rouge", [](CLI::App& app) { ... });
#define PYRAMIDION_COMMAND(name, ...)                                                    \
  static const bool PYRAMIDION_CLI_CONCAT(pyramidion_command_registered_, __COUNTER__) = \
      ::pyramidion::cli::register_command(name, __VA_ARGS__)
