#pragma once
// Helpers shared by the test suites: where reference data lives, and a clean skip when it is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace pyramidion::testing {

// ../shared beside the checkout (PYRAMIDION_SHARED env overrides).
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("PYRAMIDION_SHARED")) return env;
  return PYRAMIDION_SHARED_DIR;
}

inline std::filesystem::path binary_dir() { return PYRAMIDION_BINARY_DIR; }
inline std::filesystem::path source_dir() { return PYRAMIDION_SOURCE_DIR; }

}  // namespace pyramidion::testing

// Skips the current test when a file from ../shared is missing.
#define PYRAMIDION_REQUIRE_SHARED(relpath)                                                            \
  do {                                                                                                \
    if (!std::filesystem::exists(::pyramidion::testing::shared_dir() / (relpath)))                    \
      GTEST_SKIP() << "reference data absent: " << (::pyramidion::testing::shared_dir() / (relpath)); \
  } while (0)
