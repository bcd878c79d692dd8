#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "pyramidion/training/label_smoothed_cross_entropy.h"

namespace pyramidion {
namespace {

TEST(LabelSmoothedCrossEntropy, MatchesADirectComputation) {
  torch::manual_seed(0);
  const int64_t batch = 3, len = 5, vocab = 11, pad = 0;
  const auto logits = torch::randn({batch, len, vocab}, torch::kFloat64);
  auto target = torch::randint(1, vocab, {batch, len}, torch::kInt64);
  target[1][3] = pad;
  target[1][4] = pad;
  target[2][4] = pad;
  const double eps = 0.1;
  const auto out = label_smoothed_cross_entropy(logits, target, eps, pad);

  double loss = 0, nll = 0;
  int64_t tokens = 0;
  const auto lp = torch::log_softmax(logits, -1);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < len; ++t) {
      const int64_t y = target[b][t].item<int64_t>();
      if (y == pad) continue;
      ++tokens;
      double smooth = 0;
      for (int64_t v = 0; v < vocab; ++v) smooth -= lp[b][t][v].item<double>();
      const double n = -lp[b][t][y].item<double>();
      const double eps_i = eps / (vocab - 1);
      nll += n;
      loss += (1 - eps - eps_i) * n + eps_i * smooth;
    }
  EXPECT_EQ(out.tokens, tokens);
  EXPECT_NEAR(out.nll_loss.item<double>(), nll, 1e-10);
  EXPECT_NEAR(out.loss.item<double>(), loss, 1e-10);
}

TEST(LabelSmoothedCrossEntropy, EqualsPlainNllAtEpsilonZeroAndIgnoresPadding) {
  torch::manual_seed(1);
  const auto logits = torch::randn({2, 4, 7}, torch::TensorOptions().requires_grad(true));
  auto target = torch::randint(1, 7, {2, 4}, torch::kInt64);
  target[0][3] = 0;
  const auto out = label_smoothed_cross_entropy(logits, target, 0.0, 0);
  const auto reference = torch::nll_loss(torch::log_softmax(logits.view({8, 7}), -1), target.view({8}), {},
                                         at::Reduction::Sum, /*ignore_index=*/0);
  EXPECT_EQ(out.loss.item<float>(), out.nll_loss.item<float>());
  EXPECT_NEAR(out.loss.item<double>(), reference.item<double>(), 1e-5);
  // Padded positions get no gradient.
  out.loss.backward();
  EXPECT_EQ(logits.grad()[0][3].abs().sum().item<float>(), 0.0f);
  EXPECT_GT(logits.grad()[0][2].abs().sum().item<float>(), 0.0f);
}

TEST(LabelSmoothedCrossEntropy, HalfPrecisionLogitsAreWidened) {
  const auto logits = torch::randn({1, 3, 9}).to(torch::kBFloat16);
  const auto target = torch::tensor({{1, 2, 3}}, torch::kInt64);
  const auto out = label_smoothed_cross_entropy(logits, target, 0.1, 0);
  EXPECT_EQ(out.loss.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
}

}  // namespace
}  // namespace pyramidion
