#pragma once
// Writing files so that readers never see a half-written one: write to a temp file beside the target,
// then rename over it.
#include <string>

namespace pyramidion::data {

// A unique temporary path in the directory of `final_path` (same file system, so rename is atomic).
std::string temporary_path_for(const std::string& final_path);

// Renames `temp_path` onto `final_path`; throws with both names on failure.
void commit_file(const std::string& temp_path, const std::string& final_path);

// Writes `bytes` to `path` atomically.
void write_file_atomically(const std::string& path, const std::string& bytes);

std::string read_file_bytes(const std::string& path);

}  // namespace pyramidion::data
