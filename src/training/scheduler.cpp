#include "pyramidion/training/scheduler.h"

#include <csignal>
#include <vector>

#include "pyramidion/training/gradient_reducer.h"

namespace pyramidion {

const char* name_of(StopReason reason) {
  switch (reason) {
    case StopReason::none:
      return "none";
    case StopReason::patience:
      return "patience";
    case StopReason::signal:
      return "signal";
    case StopReason::requested:
      return "requested";
    case StopReason::max_minutes:
      return "max_minutes";
    case StopReason::max_updates:
      return "max_updates";
    case StopReason::run_for:
      return "run_for";
    case StopReason::max_epochs:
      return "max_epochs";
    case StopReason::nonfinite:
      return "nonfinite";
  }
  return "?";
}

TrainingScheduler::TrainingScheduler(int64_t max_updates, int64_t patience, GradientReducer& reducer,
                                     int64_t max_nonfinite_updates)
    : max_updates_(max_updates),
      patience_(patience),
      reducer_(reducer),
      max_nonfinite_updates_(max_nonfinite_updates) {}

void TrainingScheduler::start_call(int64_t max_updates_this_call, double max_seconds, bool end_of_run) {
  max_updates_this_call_ = max_updates_this_call;
  max_seconds_ = max_seconds;
  end_of_run_ = end_of_run;
}

StopReason TrainingScheduler::before_update(const StopInputs& in, int& signal) {
  // The same on every process (shared counters): no vote needed. Checked here, not only after a validation, so
  // that a resumed run that had run out of patience stops too.
  if (patience_ > 0 && in.validations_without_improvement >= patience_) return StopReason::patience;
  // Each process sees signals, stop requests and its clock on its own: all must stop before the same update, or
  // the ones that go on would wait in a collective for the ones that stopped.
  std::vector<double> votes{in.signal != 0 ? 1.0 : 0.0, in.stop_requested ? 1.0 : 0.0,
                            max_seconds_ > 0 && in.seconds_this_call >= max_seconds_ ? 1.0 : 0.0};
  reducer_.sum_scalars(votes);
  if (votes[0] > 0) {
    signal = in.signal != 0 ? in.signal : SIGTERM;
    return StopReason::signal;
  }
  if (votes[1] > 0) return StopReason::requested;
  if (votes[2] > 0) return end_of_run_ ? StopReason::max_minutes : StopReason::run_for;
  if (max_updates_ > 0 && in.update >= max_updates_) return StopReason::max_updates;
  if (in.updates_this_call >= max_updates_this_call_) return StopReason::run_for;
  return StopReason::none;
}

StopReason TrainingScheduler::after_skipped_update(int64_t skipped_in_a_row) const {
  if (max_nonfinite_updates_ > 0 && skipped_in_a_row >= max_nonfinite_updates_) return StopReason::nonfinite;
  return StopReason::none;
}

}  // namespace pyramidion
