// make_tiny_model PATH [MAX_SOURCE_POSITIONS]: writes the server tests' tiny model file (tests/server/tiny_model.h)
// for the browser tests (and, with more positions, for the highlight page benchmark).
#include <filesystem>
#include <iostream>

#include "../server/tiny_model.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::cerr << "usage: make_tiny_model PATH [MAX_SOURCE_POSITIONS]\n";
    return 2;
  }
  try {
    const auto path = std::filesystem::absolute(argv[1]);
    const int64_t positions = argc == 3 ? std::stoll(argv[2]) : 64;
    pyramidion::testing::write_tiny_model(path.string(), path.parent_path(), positions);
  } catch (const std::exception& e) {
    std::cerr << "make_tiny_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
