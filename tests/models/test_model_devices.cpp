// The model on every available device (CPU always; CUDA where present): the fused attention path agrees with
// the math path, padding invariance and incremental decoding hold, in float64. On CUDA also a bf16 autocast
// forward/backward: finite loss and a nonzero gradient for every parameter.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model_test_support.h"
#include "pyramidion/training/mixed_precision.h"

namespace pyramidion {
namespace {

using testing::max_diff;

std::vector<torch::Device> devices() {
  std::vector<torch::Device> all = {torch::kCPU};
  if (torch::cuda::is_available()) all.emplace_back(torch::kCUDA, 0);
  return all;
}

ModelConfig device_config() {
  ModelConfig c;
  c.vocab_size = 64;
  c.d_model = 32;
  c.attention_heads = 4;
  c.ffn_dim = 64;
  c.encoder_layers = 3;
  c.decoder_layers = 2;
  c.chunk_size = 8;
  c.pooling.schedule = {{0, 16}, {2, 5}};
  c.max_source_positions = 128;
  c.max_target_positions = 32;
  return c;
}

TEST(ModelOnDevices, FusedEqualsMathPaddingInvarianceAndIncrementalDecoding) {
  for (const auto& device : devices()) {
    SCOPED_TRACE(device.str());
    torch::manual_seed(1);
    auto config = device_config();
    SummarizationModel fused(config);
    config.attention_backend = AttentionBackend::math;
    SummarizationModel math(config);
    testing::copy_matching_parameters(*fused, *math);
    for (auto* m : {&fused, &math}) {
      (*m)->to(device, torch::kDouble);
      (*m)->eval();
    }
    torch::NoGradGuard no_grad;
    const std::vector<int64_t> lengths = {100, 17, 16, 9, 40, 3};
    auto batch = testing::random_batch(lengths, 110, 64);
    auto src = batch.tokens.to(device), mask = batch.mask.to(device);
    auto tgt = torch::randint(4, 64, {6, 12}, torch::kLong).to(device);
    EXPECT_LT(max_diff(fused->forward(src, mask, tgt), math->forward(src, mask, tgt)), 1e-9);

    auto memory = fused->encode(src, mask);
    for (size_t i = 0; i < lengths.size(); ++i) {
      auto alone =
          fused->encode(src[i].narrow(0, 0, lengths[i]).unsqueeze(0), mask[i].narrow(0, 0, lengths[i]).unsqueeze(0));
      EXPECT_LT(max_diff(memory.states[i].narrow(0, 0, alone.memory_length()), alone.states[0]), 1e-10) << "doc " << i;
    }
    auto rows = torch::arange(6, torch::TensorOptions().dtype(torch::kLong).device(device)).repeat_interleave(2);
    auto beams = memory.index_select(rows);
    auto cache = fused->start_decoding(memory);
    cache.reorder(rows);
    auto history = tgt.index_select(0, rows);
    for (int64_t t = 0; t < 12; ++t) {
      auto step = fused->decode_step(history.select(1, t), cache);
      EXPECT_LT(max_diff(step, fused->decode(history.narrow(1, 0, t + 1), beams).select(1, t)), 1e-9) << "step " << t;
    }
  }
}

TEST(ModelOnDevices, Bfloat16AutocastTrainsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA, 0);
  torch::manual_seed(2);
  SummarizationModel model(device_config());
  model->to(cuda);
  model->train();
  auto batch = testing::random_batch({100, 17, 40}, 100, 64);
  auto tgt = torch::randint(4, 64, {3, 12}, torch::kLong).to(cuda);
  torch::Tensor logits;
  {
    AutocastScope autocast(AmpMode::bf16);
    logits = model->forward(batch.tokens.to(cuda), batch.mask.to(cuda), tgt);
  }
  EXPECT_EQ(logits.scalar_type(), torch::kBFloat16);
  auto loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat).reshape({-1, 64}), tgt.reshape({-1}));
  loss.backward();
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(p.value().grad().isfinite().all().item<bool>()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  }
}

}  // namespace
}  // namespace pyramidion
