#include <gtest/gtest.h>

#include "pyramidion/util/threads.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  pyramidion::configure_threads(0);
  return RUN_ALL_TESTS();
}
