#include <gtest/gtest.h>

#include <cmath>

#include "pyramidion/training/lr_scheduler.h"

namespace pyramidion {
namespace {

TEST(LrSchedule, InverseSqrtMatchesTheClosedForm) {
  TrainingConfig config;
  config.lr = 5e-4;
  config.warmup_updates = 100;
  config.warmup_init_lr = 1e-7;
  const auto s = LrSchedule::from_config(config);
  for (int64_t u : {1, 2, 50, 99}) EXPECT_DOUBLE_EQ(s.rate(u), 1e-7 + u * (5e-4 - 1e-7) / 100.0) << u;
  EXPECT_DOUBLE_EQ(s.rate(100), 5e-4);
  for (int64_t u : {101, 400, 10000}) EXPECT_DOUBLE_EQ(s.rate(u), 5e-4 * std::sqrt(100.0) / std::sqrt(double(u))) << u;
  EXPECT_DOUBLE_EQ(s.rate(400), 2.5e-4);
}

TEST(LrSchedule, PolynomialDecayMatchesTheClosedForm) {
  TrainingConfig config;
  config.lr_scheduler = LrSchedulerKind::polynomial_decay;
  config.lr = 1e-3;
  config.warmup_updates = 10;
  config.end_learning_rate = 1e-5;
  config.total_updates = 110;
  config.power = 2.0;
  const auto s = LrSchedule::from_config(config);
  EXPECT_DOUBLE_EQ(s.rate(5), 5 * 1e-3 / 10.0);
  EXPECT_DOUBLE_EQ(s.rate(10), 1e-3);
  EXPECT_DOUBLE_EQ(s.rate(60), (1e-3 - 1e-5) * 0.25 + 1e-5);
  EXPECT_DOUBLE_EQ(s.rate(110), 1e-5);
  EXPECT_DOUBLE_EQ(s.rate(1000), 1e-5);
}

TEST(LrSchedule, ConstantAfterWarmupAndWithoutWarmup) {
  TrainingConfig config;
  config.lr_scheduler = LrSchedulerKind::constant;
  config.lr = 2e-4;
  config.warmup_updates = 4;
  auto s = LrSchedule::from_config(config);
  EXPECT_DOUBLE_EQ(s.rate(2), 1e-4);
  EXPECT_DOUBLE_EQ(s.rate(4), 2e-4);
  EXPECT_DOUBLE_EQ(s.rate(1000000), 2e-4);
  config.warmup_updates = 0;
  config.lr_scheduler = LrSchedulerKind::inverse_sqrt;
  s = LrSchedule::from_config(config);
  EXPECT_DOUBLE_EQ(s.rate(1), 2e-4);
  EXPECT_DOUBLE_EQ(s.rate(4), 1e-4);
}

}  // namespace
}  // namespace pyramidion
