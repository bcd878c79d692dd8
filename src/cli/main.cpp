// pyramidion: one binary, many subcommands (see src/cli/*.cpp, each registers itself).
#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <iostream>

#include "command.h"
#include "pyramidion/util/terminal_log_sink.h"
#include "numeric_checks.h"
#include "pyramidion/util/runtime.h"

namespace pyramidion::cli {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

GlobalOptions& global_options() {
  static GlobalOptions options;
  return options;
}

}  // namespace pyramidion::cli

namespace {

// One line: the first line of a message (LibTorch errors carry a backtrace and source locations after it).
std::string first_line(const std::string& message) { return message.substr(0, message.find('\n')); }

// nlohmann's messages start with "[json.exception.type_error.302] ": an internal name, not the user's problem.
std::string without_library_prefix(const std::string& message) {
  if (message.rfind("[json.exception.", 0) == 0) {
    const auto end = message.find("] ");
    if (end != std::string::npos) return "invalid JSON value: " + message.substr(end + 2);
  }
  return message;
}

int fail(const std::string& message, int code) {
  std::cerr << "pyramidion: error: " << first_line(message) << "\n";
  return code;
}

// Requested output that did not reach its destination (disk full, closed pipe) is an error, never exit 0.
int check_standard_output(int code) {
  std::cout.flush();
  const bool stream_failed = !std::cout;
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout) || stream_failed) {
    const std::string reason = errno ? std::strerror(errno) : "write failed";
    std::cerr << "pyramidion: error: writing standard output: " << reason << "\n";
    return code == 0 ? 1 : code;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pyramidion::cli;
  // Logs, warnings and progress go to stderr: stdout carries only the requested output.
  // On a terminal a log line is written above the progress bar, never on its line.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("pyramidion", pyramidion::make_terminal_log_sink()));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  // A closed stdout pipe fails the write (reported at exit) instead of killing the process silently;
  // training installs its own handler to save a checkpoint on SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"pyramidion: long-document summarization with trainable representation pooling"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pyramidion 0.1.0");
  auto& global = global_options();
  app.add_option("--threads", global.threads, "intra-op threads (default: all cores, or $PYRAMIDION_THREADS)")
      ->envname("PYRAMIDION_THREADS")->check(number_range(0, 1024));
  app.add_option("--log-level", global.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.parse_complete_callback([&]() {
    spdlog::set_level(spdlog::level::from_str(global.log_level));
    pyramidion::configure_threads(global.threads);
    pyramidion::keep_freed_memory();
  });
  for (auto& entry : command_registry()) entry.setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const CommandError& e) {
    return check_standard_output(fail(e.what(), e.exit_code));
  } catch (const c10::Error& e) {
    return check_standard_output(fail(e.what_without_backtrace(), 1));
  } catch (const std::bad_alloc&) {
    return check_standard_output(fail("out of memory (a size, count or beam too large for this machine?)", 1));
  } catch (const std::exception& e) {
    return check_standard_output(fail(without_library_prefix(e.what()), 1));
  }
  return check_standard_output(0);
}
