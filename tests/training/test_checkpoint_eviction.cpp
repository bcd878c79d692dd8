// Periodic checkpoints across kills (issue 21, finding 11): the checkpoint a resumed run writes is never evicted
// because an interrupted continuation left newer files behind (they are set aside instead), an eviction that a
// kill cut short is finished on the next start, and `average-checkpoints --last N` says when the files it finds
// are not the run's last N consecutive saves.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "pyramidion/training/checkpoint_averaging.h"
#include "pyramidion/training/trainer.h"
#include "training_test_support.h"

namespace pyramidion {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

TrainingConfig periodic_training() {
  auto t = testing::tiny_training_config();
  t.save_interval_updates = 1;
  t.keep_last = 2;
  return t;
}

bool has(const TempDir& dir, const std::string& name) { return fs::exists(dir.file("run/" + name)); }

// A run saved checkpoint_last.pt at update 2 and went on to update 5 (keeping checkpoint_4/5.pt) before a kill.
// Resumed from update 2, its checkpoint_3.pt must survive (main evicted it at once: 4 and 5 were "newer"), and
// --last 2 must then pick this run's own saves.
TEST(CheckpointEviction, ResumedRunKeepsItsOwnPeriodicCheckpoints) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 12, 3);
  const auto model = testing::tiny_model_config();
  {
    Trainer first(model, periodic_training(), data, data, "", testing::quiet(dir.file("run")));
    first.run_for(2, 0);
    first.save_checkpoint(dir.file("run/checkpoint_last.pt"));
    first.run_for(3, 0);  // killed after update 5: checkpoint_last.pt still holds update 2
  }
  ASSERT_TRUE(has(dir, "checkpoint_4.pt") && has(dir, "checkpoint_5.pt"));
  ASSERT_FALSE(has(dir, "checkpoint_3.pt"));
  Trainer resumed(model, periodic_training(), data, data, "", testing::quiet(dir.file("run")));
  resumed.load_checkpoint(dir.file("run/checkpoint_last.pt"));
  EXPECT_FALSE(has(dir, "checkpoint_4.pt"));  // set aside, still loadable under its new name
  EXPECT_TRUE(has(dir, "checkpoint_4.pt.superseded") && has(dir, "checkpoint_5.pt.superseded"));
  resumed.run_for(1, 0);
  EXPECT_TRUE(has(dir, "checkpoint_3.pt")) << "the resumed run's own checkpoint was evicted";
  resumed.run_for(1, 0);
  EXPECT_TRUE(has(dir, "checkpoint_3.pt") && has(dir, "checkpoint_4.pt"));
  const auto picked = last_periodic_checkpoints(dir.file("run"), 2);
  ASSERT_EQ(picked.size(), 2u);
  EXPECT_EQ(fs::path(picked[0]).filename().string(), "checkpoint_3.pt");
  EXPECT_EQ(periodic_gap_warning(dir.file("run"), picked), "");
  Trainer check(model, periodic_training(), data, data, "", testing::quiet());
  EXPECT_NO_THROW(check.load_checkpoint(picked[1]));  // whole: model file and state file
}

// A kill between renaming checkpoint_N.pt aside and removing its files: the next start finishes the eviction
// (and touches no kept checkpoint).
TEST(CheckpointEviction, InterruptedEvictionIsFinishedOnTheNextStart) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 12, 3);
  const auto model = testing::tiny_model_config();
  {
    Trainer first(model, periodic_training(), data, data, "", testing::quiet(dir.file("run")));
    first.run_for(3, 0);
  }
  ASSERT_TRUE(has(dir, "checkpoint_2.pt") && has(dir, "checkpoint_3.pt"));
  // What a kill inside the eviction of checkpoint_1.pt leaves.
  std::ofstream(dir.file("run/checkpoint_1.pt.evicting")) << "x";
  std::ofstream(dir.file("run/checkpoint_1.pt.state-u1")) << "x";
  Trainer next(model, periodic_training(), data, data, "", testing::quiet(dir.file("run")));
  EXPECT_FALSE(has(dir, "checkpoint_1.pt.evicting"));
  EXPECT_FALSE(has(dir, "checkpoint_1.pt.state-u1"));
  EXPECT_TRUE(has(dir, "checkpoint_2.pt") && has(dir, "checkpoint_2.pt.state-u2"));
  EXPECT_TRUE(has(dir, "checkpoint_3.pt") && has(dir, "checkpoint_3.pt.state-u3"));
}

// A lost save between the picked files, or after them, makes --last N warn instead of averaging silently.
TEST(CheckpointEviction, LastNWarnsWhenTheSavesAreNotConsecutive) {
  TempDir dir;
  auto data = testing::synthetic_dataset(dir.file("train.bin"), 12, 3);
  auto training = periodic_training();
  training.keep_last = 3;
  Trainer trainer(testing::tiny_model_config(), training, data, data, "", testing::quiet(dir.file("run")));
  trainer.run_for(3, 0);
  EXPECT_EQ(periodic_gap_warning(dir.file("run"), last_periodic_checkpoints(dir.file("run"), 3)), "");
  fs::remove(dir.file("run/checkpoint_2.pt"));
  const std::string gap = periodic_gap_warning(dir.file("run"), last_periodic_checkpoints(dir.file("run"), 2));
  EXPECT_NE(gap.find("checkpoint_1.pt and checkpoint_3.pt: not consecutive saves"), std::string::npos) << gap;
  trainer.save_checkpoint(dir.file("run/checkpoint_last.pt"));  // update 3
  fs::remove(dir.file("run/checkpoint_3.pt"));
  const std::string stale = periodic_gap_warning(dir.file("run"), {dir.file("run/checkpoint_1.pt")});
  EXPECT_NE(stale.find("holds update 3, but the newest periodic checkpoint is checkpoint_1.pt"), std::string::npos)
      << stale;
}

}  // namespace
}  // namespace pyramidion
