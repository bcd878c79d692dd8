// pyramidion: one binary, many subcommands (see src/cli/*.cpp, each registers itself).
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "command.h"
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

int main(int argc, char** argv) {
  using namespace pyramidion::cli;
  CLI::App app{"pyramidion: long-document summarization with trainable representation pooling"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pyramidion 0.1.0");
  auto& global = global_options();
  app.add_option("--threads", global.threads, "intra-op threads (default: all cores, or $PYRAMIDION_THREADS)")
      ->envname("PYRAMIDION_THREADS");
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
    std::cerr << "pyramidion: error: " << e.what() << "\n";
    return e.exit_code;
  } catch (const std::exception& e) {
    std::cerr << "pyramidion: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
