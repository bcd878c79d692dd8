// make_tiny_model PATH: writes the server tests' tiny model file (tests/server/tiny_model.h) for the browser test.
#include <filesystem>
#include <iostream>

#include "../server/tiny_model.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_tiny_model PATH\n";
    return 2;
  }
  try {
    const auto path = std::filesystem::absolute(argv[1]);
    pyramidion::testing::write_tiny_model(path.string(), path.parent_path());
  } catch (const std::exception& e) {
    std::cerr << "make_tiny_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
