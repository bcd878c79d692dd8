// CheckpointPolicy::write (training/checkpoint_policy.h) runs the writes in the crash-safe order next to the rule that
// chose them: best files before checkpoint_last.pt, whose state must already list the kept best files; the periodic
// checkpoint last; nothing at all on a process that does not write.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../data/temp_dir.h"
#include "pyramidion/training/checkpoint_policy.h"
#include "pyramidion/training/validator.h"

namespace pyramidion {
namespace {

struct Recorded {
  std::vector<std::string> files;     // file names in the order written
  std::vector<size_t> kept_at_write;  // state.best_checkpoints.size() when each was written
};

CheckpointFiles recording(Recorded& out, const TrainingState& state) {
  CheckpointFiles files;
  auto name = [](const std::string& path) { return path.substr(path.find_last_of('/') + 1); };
  files.resumable = [&out, &state, name](const std::string& path) {
    out.files.push_back(name(path));
    out.kept_at_write.push_back(state.best_checkpoints.size());
  };
  files.inference = [&out, &state, name](const std::string& path, const nlohmann::json& metadata) {
    EXPECT_TRUE(metadata.contains("validation")) << path;
    out.files.push_back(name(path));
    out.kept_at_write.push_back(state.best_checkpoints.size());
  };
  return files;
}

TEST(CheckpointPolicyWrite, BestBeforeLastThenPeriodic) {
  testing::TempDir dir;
  CheckpointPolicyOptions options;
  options.save_dir = dir.path().string();
  options.keep_best = 2;
  options.save_interval_updates = 10;
  CheckpointPolicy policy(options);
  TrainingState state;
  state.update = 10;
  ValidationResult validation;
  validation.update = 10;
  validation.loss = 1.5;

  CheckpointWrites writes = policy.after_validation(true, 10, 1.5, state.best_checkpoints);
  const CheckpointWrites periodic = policy.after_update(10);
  writes.periodic_update = periodic.periodic_update;
  Recorded recorded;
  policy.write(writes, state, &validation, recording(recorded, state));
  EXPECT_EQ(recorded.files, (std::vector<std::string>{"checkpoint_best.pt", "checkpoint_best_u10.pt",
                                                      "checkpoint_last.pt", "checkpoint_10.pt"}));
  EXPECT_EQ(recorded.kept_at_write, (std::vector<size_t>{0, 0, 1, 1}));  // listed before checkpoint_last.pt
  ASSERT_EQ(state.best_checkpoints.size(), 1u);
  EXPECT_EQ(state.best_checkpoints.front().update, 10);
  EXPECT_FALSE(policy.at_end(10).last);  // checkpoint_last.pt holds update 10
}

TEST(CheckpointPolicyWrite, ANonWritingProcessWritesNothing) {
  CheckpointPolicyOptions options;
  options.save_dir = "unused";
  options.is_writer = false;
  CheckpointPolicy policy(options);
  TrainingState state;
  Recorded recorded;
  policy.write(policy.after_validation(true, 1, 1.0, {}), state, nullptr, recording(recorded, state));
  policy.write(policy.at_end(1), state, nullptr, recording(recorded, state));
  EXPECT_TRUE(recorded.files.empty());
}

}  // namespace
}  // namespace pyramidion
