// The one stop rule (training/scheduler.h): its order, and the vote that makes every process stop before the same
// update when only one of them saw a signal, a stop request or its clock run out.
#include <gtest/gtest.h>

#include <csignal>
#include <vector>

#include "pyramidion/training/gradient_reducer.h"
#include "pyramidion/training/scheduler.h"

namespace pyramidion {
namespace {

// Another process's votes added to this one's, as an all-reduce would.
class TwoProcessReducer final : public GradientReducer {
 public:
  explicit TwoProcessReducer(std::vector<double> other) : other_(std::move(other)) {}
  void reduce_gradients(const std::vector<torch::Tensor>&) override {}
  void sum_scalars(std::vector<double>& values) override {
    for (size_t i = 0; i < values.size() && i < other_.size(); ++i) values[i] += other_[i];
  }
  int64_t rank() const override { return 1; }
  int64_t world_size() const override { return 2; }

 private:
  std::vector<double> other_;
};

TEST(TrainingScheduler, OneProcessStopsForTheFirstReasonInOrder) {
  LocalGradientReducer alone;
  TrainingScheduler scheduler(/*max_updates=*/10, /*patience=*/3, alone);
  scheduler.start_call(/*max_updates_this_call=*/5, /*max_seconds=*/60, /*end_of_run=*/true);
  int signal = 0;
  StopInputs in;
  in.update = 2;
  EXPECT_EQ(scheduler.before_update(in, signal), StopReason::none);
  in.updates_this_call = 5;
  EXPECT_EQ(scheduler.before_update(in, signal), StopReason::run_for);
  in.update = 10;
  EXPECT_EQ(scheduler.before_update(in, signal), StopReason::max_updates);
  in.seconds_this_call = 61;
  EXPECT_EQ(scheduler.before_update(in, signal), StopReason::max_minutes);
  in.stop_requested = true;
  EXPECT_EQ(scheduler.before_update(in, signal), StopReason::requested);
  in.signal = SIGINT;
  EXPECT_EQ(scheduler.before_update(in, signal), StopReason::signal);
  EXPECT_EQ(signal, SIGINT);
  in.validations_without_improvement = 3;
  EXPECT_EQ(scheduler.before_update(in, signal), StopReason::patience);

  // A call's own clock (run_for) is not the run's max_minutes.
  scheduler.start_call(100, 60, /*end_of_run=*/false);
  StopInputs late;
  late.seconds_this_call = 61;
  EXPECT_EQ(scheduler.before_update(late, signal), StopReason::run_for);
  EXPECT_STREQ(name_of(StopReason::max_minutes), "max_minutes");
}

TEST(TrainingScheduler, WhatAnotherProcessSawStopsThisOneToo) {
  StopInputs quiet;  // this process saw nothing
  int signal = 0;
  TwoProcessReducer signalled({1, 0, 0});
  TrainingScheduler a(0, 0, signalled);
  a.start_call(100, 0, true);
  EXPECT_EQ(a.before_update(quiet, signal), StopReason::signal);
  EXPECT_EQ(signal, SIGTERM);  // the other process's signal is not known here: stop as for SIGTERM

  TwoProcessReducer requested({0, 1, 0});
  TrainingScheduler b(0, 0, requested);
  b.start_call(100, 0, true);
  EXPECT_EQ(b.before_update(quiet, signal), StopReason::requested);

  TwoProcessReducer out_of_time({0, 0, 1});
  TrainingScheduler c(0, 0, out_of_time);
  c.start_call(100, 60, true);
  EXPECT_EQ(c.before_update(quiet, signal), StopReason::max_minutes);

  TwoProcessReducer nothing({0, 0, 0});
  TrainingScheduler d(0, 0, nothing);
  d.start_call(100, 60, true);
  EXPECT_EQ(d.before_update(quiet, signal), StopReason::none);
}

TEST(TrainingScheduler, SkippedUpdatesStopAtTheNonfiniteLimit) {
  LocalGradientReducer alone;
  TrainingScheduler scheduler(/*max_updates=*/0, /*patience=*/0, alone, /*max_nonfinite_updates=*/3);
  EXPECT_EQ(scheduler.after_skipped_update(2), StopReason::none);
  EXPECT_EQ(scheduler.after_skipped_update(3), StopReason::nonfinite);
  TrainingScheduler unlimited(0, 0, alone);
  EXPECT_EQ(unlimited.after_skipped_update(1000), StopReason::none);
}

}  // namespace
}  // namespace pyramidion
