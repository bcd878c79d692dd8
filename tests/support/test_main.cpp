#include <gtest/gtest.h>

#include "pyramidion/util/runtime.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  pyramidion::configure_threads(0);
  pyramidion::keep_freed_memory();
  return RUN_ALL_TESTS();
}
