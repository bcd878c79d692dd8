#include "output_paths.h"

#include <filesystem>
#include <system_error>

#include "command.h"

namespace pyramidion::cli {
namespace fs = std::filesystem;

namespace {

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec) && !ec;
  const fs::path pa = fs::weakly_canonical(a, ec);
  if (ec) return false;
  const fs::path pb = fs::weakly_canonical(b, ec);
  return !ec && pa == pb;
}

}  // namespace

void refuse_output_over_input(const std::string& output, const std::vector<std::string>& inputs) {
  if (output.empty() || output == "-") return;
  for (const auto& input : inputs) {
    if (input.empty() || input == "-") continue;
    if (same_file(output, input))
      throw CommandError(output + ": is also an input (" + input + "); choose another output path");
  }
}

}  // namespace pyramidion::cli
