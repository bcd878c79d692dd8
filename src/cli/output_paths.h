#pragma once
// Output paths that would destroy an input are refused before anything is read or written.
#include <string>
#include <vector>

namespace pyramidion::cli {

// Throws CommandError "OUTPUT: is also an input (INPUT); choose another output path" when `output` names the same
// file as one of `inputs` (same path after resolving ., .., symlinks and hard links). "-" and "" (stdio / unset) are
// never the same as anything.
void refuse_output_over_input(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace pyramidion::cli
