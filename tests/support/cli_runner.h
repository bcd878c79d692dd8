#pragma once
// Runs the built `pyramidion` program, as a user would, and captures its output.
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "test_support.h"

namespace pyramidion::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

inline CommandResult run_cli(const std::string& arguments) {
  const std::string command = "'" + (binary_dir() / "pyramidion").string() + "' " + arguments + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace pyramidion::testing
