// pyramidion: one binary, many subcommands (see src/cli/*.cpp, each registers itself).
#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "command.h"
#include "numeric_checks.h"
#include "pyramidion/util/runtime.h"
#include "pyramidion/util/terminal_log_sink.h"

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

constexpr int kUsageError = 2;  // as getopt-style tools: the command line itself is wrong

// Levenshtein distance, for "did you mean".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest of `names` to `word` when it is a plausible typo (at most a third of the letters differ).
std::string closest(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& name : names) {
    const size_t d = edit_distance(word, name);
    if (d < best_distance) best_distance = d, best = name;
  }
  return best;
}

// The deepest subcommand the parser entered ("data prepare"), or nullptr.
const CLI::App* deepest_parsed(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) {
    const CLI::App* deeper = deepest_parsed(*sub);
    return deeper ? deeper : sub;
  }
  return nullptr;
}

std::string command_path(const CLI::App* app) {
  std::string path;
  for (const CLI::App* a = app; a != nullptr && a->get_parent() != nullptr; a = a->get_parent())
    path = a->get_name() + (path.empty() ? "" : " " + path);
  return path;
}

// Names of an app's options (long forms) and subcommands, for suggestions.
std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options())
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  if (app.get_parent() != nullptr)
    for (const auto& n : option_names(*app.get_parent())) names.push_back(n);
  return names;
}

// A usage error as one line naming what is wrong and where help is, exit 2. CLI11 checks required options before
// it reports unknown arguments; an unknown argument is named first, because it is usually why the rest is missing.
int usage_error(const CLI::App& app, const CLI::ParseError& error) {
  const CLI::App* command = deepest_parsed(app);
  const CLI::App& where = command ? *command : app;
  const std::string help = command ? "pyramidion " + command_path(command) + " --help" : "pyramidion --help";
  std::vector<std::string> extras = where.remaining();
  if (extras.empty()) extras = app.remaining();
  if (!extras.empty()) {
    const std::string& word = extras.front();
    if (word.rfind("-", 0) != 0 && !where.get_subcommands({}).empty()) {  // a command word where one belongs
      std::vector<std::string> names;
      for (const CLI::App* sub : where.get_subcommands({})) names.push_back(sub->get_name());
      const std::string guess = closest(word, names);
      const std::string name = command ? command_path(command) + " " + word : word;
      return fail("unknown command '" + name + "'" + (guess.empty() ? "" : "; did you mean '" + guess + "'?") + " (" +
                      help + " lists the commands)",
                  kUsageError);
    }
    if (word.rfind("-", 0) == 0) {
      const std::string guess = closest(word.substr(0, word.find('=')), option_names(where));
      return fail("unknown option '" + word + "'" + (command ? " for '" + command_path(command) + "'" : "") +
                      (guess.empty() ? "" : "; did you mean '" + guess + "'?") + " (see " + help + ")",
                  kUsageError);
    }
    return fail("unexpected argument '" + word + "'" + (command ? " for '" + command_path(command) + "'" : "") +
                    " (see " + help + ")",
                kUsageError);
  }
  return fail(std::string(error.what()) + " (see " + help + ")", kUsageError);
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
  // Global options (--threads, --log-level) are accepted after the subcommand too: subcommands inherit
  // fallthrough, so an option a subcommand does not know is tried on its parents.
  app.fallthrough();
  app.set_version_flag(
      "--version", [] { return pyramidion::cli::version_text(); },
      "the version, the LibTorch it runs on, CUDA and distributed backends");
  auto& global = global_options();
  app.add_option("--threads", global.threads, "intra-op threads (default: all cores, or $PYRAMIDION_THREADS)")
      ->envname("PYRAMIDION_THREADS")
      ->check(number_range(0, 1024));
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
    if (e.get_exit_code() == 0) return app.exit(e);
    return usage_error(app, e);
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
