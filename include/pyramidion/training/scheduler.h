#pragma once
// When training stops (Marian's Scheduler): the one stop rule of the training loop. Every reason is checked before
// each update, in one order; what a process sees on its own (a signal, a stop request, its clock) is voted over
// all processes, one process being the N = 1 case of the vote, so that every process stops before the same update.
#include <cstdint>
#include <string>

namespace pyramidion {

class GradientReducer;

enum class StopReason {
  none,         // keep going
  patience,     // training.patience validations in a row without a new best
  signal,       // SIGINT / SIGTERM (any process)
  requested,    // Trainer::request_stop() (any process)
  max_minutes,  // the run's wall-clock limit (training.max_minutes)
  max_updates,  // training.max_updates
  run_for,      // the limits of one run_for() call (its updates or seconds)
  max_epochs,   // training.max_epochs: the data ran out
  nonfinite,    // NaN/Inf: training.max_nonfinite_updates skipped in a row, or a non-finite validation
};
// "max_updates", "signal", ...: the names of the log line and of TrainingSummary::stop_reason.
const char* name_of(StopReason reason);

// What a process knows before an update.
struct StopInputs {
  int64_t update = 0;                           // updates applied in the run so far
  int64_t validations_without_improvement = 0;  // for training.patience
  int64_t updates_this_call = 0;
  double seconds_this_call = 0;
  bool stop_requested = false;
  int signal = 0;  // the stop signal this process received (0 = none)
};

class TrainingScheduler {
 public:
  // max_updates, patience, max_nonfinite_updates: training.max_updates, training.patience and
  // training.max_nonfinite_updates (0 = off). `reducer` sums the votes.
  TrainingScheduler(int64_t max_updates, int64_t patience, GradientReducer& reducer, int64_t max_nonfinite_updates = 0);

  // The limits of one call of the loop: at most `max_updates_this_call` updates and `max_seconds` seconds (<= 0: no
  // limit); `end_of_run`: the seconds are the run's max_minutes (else the call's own limit, reason run_for).
  void start_call(int64_t max_updates_this_call, double max_seconds, bool end_of_run);

  // Before each update: the reason to stop now (none = go on). `signal` gets the signal that stopped the run (the
  // process's own, or SIGTERM when another process received it).
  StopReason before_update(const StopInputs& inputs, int& signal);
  // After an update skipped for a NaN/Inf loss or gradient norm: nonfinite once `skipped_in_a_row` reaches the limit.
  // No vote: the skip follows from reduced values, the same on every process.
  StopReason after_skipped_update(int64_t skipped_in_a_row) const;

 private:
  int64_t max_updates_;
  int64_t patience_;
  GradientReducer& reducer_;
  int64_t max_nonfinite_updates_;
  int64_t max_updates_this_call_ = 0;
  double max_seconds_ = 0;
  bool end_of_run_ = true;
};

}  // namespace pyramidion
