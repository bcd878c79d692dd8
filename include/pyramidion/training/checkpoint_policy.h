#pragma once
// Which checkpoints to write when, and writing them in a crash-safe order (the file format is training/checkpoint.h):
//   after a validation          checkpoint_last.pt, and checkpoint_best.pt when the metric improved;
//   every save_interval_updates checkpoint_<update>.pt, then only the newest keep_last of them are kept;
//   keep_best > 0               checkpoint_best_u<update>.pt (an inference file) for each of the keep_best best
//                               validations (for `pyramidion average-checkpoints --best N`), the others removed;
//   at the end of a run         checkpoint_last.pt unless it already holds this update (also after a signal).
// Only the writer process (rank 0 of data-parallel training) writes; the others get empty decisions.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pyramidion/training/checkpoint.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion {

struct ValidationResult;

struct CheckpointPolicyOptions {
  std::string save_dir;               // "" = write nothing
  int64_t save_interval_updates = 0;  // 0 = no periodic checkpoints
  int64_t keep_last = 2;              // periodic checkpoints kept
  bool is_writer = true;              // false on every process but rank 0
  int64_t keep_best = 0;              // checkpoint_best_u<update>.pt files kept; 0 = none
  bool maximize = false;              // the validation metric is better when higher (ROUGE)

  // training.save_interval_updates, keep_last, keep_best_checkpoints and best_checkpoint_metric's direction.
  static CheckpointPolicyOptions from_config(const TrainingConfig& config, std::string save_dir, bool is_writer);
};

// What to write now.
struct CheckpointWrites {
  bool last = false;             // checkpoint_last.pt (resumable)
  bool best = false;             // checkpoint_best.pt (inference file)
  int64_t periodic_update = -1;  // >= 0: checkpoint_<periodic_update>.pt (resumable), then prune to keep_last
  int64_t ranked_update = -1;    // >= 0: checkpoint_best_u<ranked_update>.pt (inference file)
  std::vector<TrainingState::RankedCheckpoint> ranked_after;  // the kept list once written (the state records it)
  std::vector<int64_t> ranked_removed;                        // checkpoint_best_u<update>.pt files to remove

  bool any() const { return last || best || periodic_update >= 0 || ranked_update >= 0; }
};

// The two kinds of file, written by the run that owns the model, optimizer and tokenizer.
struct CheckpointFiles {
  std::function<void(const std::string& path)> resumable;  // NAME.pt + its state file (optimizer, RNG states)
  // NAME.pt only, the training state in its metadata plus `metadata` (the validation that made it best)
  std::function<void(const std::string& path, const nlohmann::json& metadata)> inference;
};

class CheckpointPolicy {
 public:
  explicit CheckpointPolicy(CheckpointPolicyOptions options);

  CheckpointWrites after_validation(bool improved) const;
  // The same, plus the keep_best ranking: `kept` is the current list (best first), `value` this validation's
  // metric (not finite: never kept). A tie keeps the earlier checkpoint.
  CheckpointWrites after_validation(bool improved, int64_t update, double value,
                                    const std::vector<TrainingState::RankedCheckpoint>& kept) const;
  CheckpointWrites after_update(int64_t update) const;  // the periodic checkpoint, when one is due
  CheckpointWrites at_end(int64_t update) const;        // end of a run, stop signal included

  // Writes `writes` through `files`: best before last, because checkpoint_last.pt's state records the best update
  // and the kept checkpoint_best_u*.pt list (`state.best_checkpoints`, set here before that write), so a kill between
  // two writes never leaves a record newer than the files; evictions go after the record. `validation` (may be
  // null) goes into the metadata of best files. Then wrote().
  void write(const CheckpointWrites& writes, TrainingState& state, const ValidationResult* validation,
             const CheckpointFiles& files);

  // Bookkeeping: the trainer reports what it wrote (and, on resume, that checkpoint_last.pt holds `update`).
  void wrote(const CheckpointWrites& writes, int64_t update);
  void last_holds(int64_t update) { last_saved_update_ = update; }

  std::string last_path() const;
  std::string best_path() const;
  std::string periodic_path(int64_t update) const;
  std::string ranked_best_path(int64_t update) const;  // checkpoint_best_u<update>.pt
  // After checkpoint_<update>.pt of `update` is written: makes the save dir durable, then evicts (crash-safely,
  // training/checkpoint.h) the periodic checkpoints of updates <= `update` beyond the newest keep_last of them.
  // Newer ones (a run resumed from before them) are never touched here: supersede_newer_than() set them aside.
  void remove_old_periodic(int64_t update) const;
  // At the start of a run: completes evictions a kill interrupted (NAME.pt.evicting); returns what it finished.
  std::vector<std::string> finish_interrupted_evictions() const;
  // On --resume from `update`: periodic checkpoints of later updates belong to the continuation that was cut off
  // (checkpoint_last.pt is older than they are). Each is renamed to checkpoint_<u>.pt.superseded (still loadable:
  // its state file stays), so that the kept set and `average-checkpoints --last N` see only this run's saves, and
  // the resumed run writes them again. Returns the renamed files.
  std::vector<std::string> supersede_newer_than(int64_t update) const;

  bool writes() const { return options_.is_writer && !options_.save_dir.empty(); }
  const CheckpointPolicyOptions& options() const { return options_; }

 private:
  CheckpointPolicyOptions options_;
  int64_t last_saved_update_ = -1;  // checkpoint_last.pt holds this update
};

}  // namespace pyramidion
