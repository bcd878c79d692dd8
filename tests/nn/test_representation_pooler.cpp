// Representation pooling: batch-padding invariance of the grouped top-k, identity when nothing is to be pooled,
// provenance, gradients to the scorer, hard top-k at inference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "pyramidion/nn/representation_pooler.h"
#include "pyramidion/nn/sinusoidal_positions.h"
#include "tensor_checks.h"

namespace pyramidion {
namespace {

using testing::kF64;
using testing::max_diff;
const TopKOptions kPaperOptions{20.0, true, true, false};

torch::Tensor prefix_mask(const std::vector<int64_t>& lengths, int64_t n) {
  return torch::arange(n).unsqueeze(0) < torch::tensor(lengths).unsqueeze(1);
}

TEST(PoolDocuments, DocumentResultIgnoresBatchPadding) {
  torch::manual_seed(5);
  const int64_t width = 8, dim = 3;
  // Round counts 0, 0, 1, 1, 2, 2, 3, 0 (widths straddled both ways).
  const std::vector<int64_t> lengths = {5, 8, 9, 16, 17, 32, 33, 1};
  const int64_t n = 40;
  auto e = torch::randn({8, n, dim}, kF64);
  auto s = torch::rand({8, n}, kF64) + 1e-5;
  auto mask = prefix_mask(lengths, n);
  auto batched = pool_documents(e, s, mask, width, kPaperOptions);
  ASSERT_EQ(batched.states.sizes(), (std::vector<int64_t>{8, width, dim}));
  for (size_t i = 0; i < lengths.size(); ++i) {
    SCOPED_TRACE("document of length " + std::to_string(lengths[i]));
    const int64_t L = lengths[i];
    auto alone = pool_documents(e[i].narrow(0, 0, L).unsqueeze(0), s[i].narrow(0, 0, L).unsqueeze(0),
                                torch::ones({1, L}, torch::kBool), width, kPaperOptions);
    const int64_t out = alone.states.size(1);
    EXPECT_EQ(out, std::min(L, width));
    EXPECT_TRUE(torch::equal(batched.mask[i].narrow(0, 0, out), alone.mask[0]));
    EXPECT_EQ(batched.mask[i].sum().item<int64_t>(), out);
    EXPECT_LT(max_diff(batched.states[i].narrow(0, 0, out), alone.states[0]), 1e-12);
    EXPECT_LT(max_diff(batched.scores[i].narrow(0, 0, out), alone.scores[0]), 1e-12);
  }
}

TEST(PoolDocuments, MatchesTheOperatorForOneDocument) {
  torch::manual_seed(6);
  auto e = torch::randn({1, 20, 4}, kF64);
  auto s = torch::rand({1, 20}, kF64);
  auto pooled = pool_documents(e, s, torch::ones({1, 20}, torch::kBool), 5, kPaperOptions);
  auto direct = successive_halving_topk(e, s, 5, kPaperOptions);
  EXPECT_LT(max_diff(pooled.states, direct.embeddings), 1e-15);
}

TEST(PoolDocuments, WidthAtLeastLengthIsIdentity) {
  auto e = torch::randn({2, 6, 4}, kF64);
  auto s = torch::rand({2, 6}, kF64);
  auto mask = prefix_mask({6, 4}, 6);
  for (int64_t width : {6, 7, 100}) {
    auto pooled = pool_documents(e, s, mask, width, kPaperOptions);
    EXPECT_TRUE(torch::equal(pooled.states, e));
    EXPECT_TRUE(torch::equal(pooled.mask, mask));
  }
  // A short document in a batch that is pooled keeps its tokens.
  auto long_batch = torch::randn({2, 12, 4}, kF64);
  long_batch[1].narrow(0, 0, 4).copy_(e[1].narrow(0, 0, 4));
  auto pooled = pool_documents(long_batch, torch::rand({2, 12}, kF64), prefix_mask({12, 4}, 12), 6, kPaperOptions);
  EXPECT_TRUE(torch::equal(pooled.states[1].narrow(0, 0, 4), e[1].narrow(0, 0, 4)));
  EXPECT_EQ(pooled.mask[1].sum().item<int64_t>(), 4);
}

TEST(RepresentationPooler, ProvenanceReproducesPooledStates) {
  torch::manual_seed(7);
  RepresentationPoolerOptions options;
  options.dim = 4;
  options.width = 3;
  RepresentationPooler pooler(options);
  pooler->to(torch::kDouble);
  auto x = torch::randn({3, 11, 4}, kF64);
  auto mask = prefix_mask({11, 7, 2}, 11);
  auto out = pooler(x, mask, 0);
  auto weights = pooling_provenance(out.record);  // (3, 3, 11)
  ASSERT_EQ(weights.sizes(), (std::vector<int64_t>{3, 3, 11}));
  auto rebuilt = torch::matmul(weights, x.masked_fill(mask.logical_not().unsqueeze(-1), 0));
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t real = out.pooled.mask[b].sum().item<int64_t>();
    EXPECT_LT(max_diff(rebuilt[b].narrow(0, 0, real), out.pooled.states[b].narrow(0, 0, real)), 1e-12);
    auto row_sums = weights[b].narrow(0, 0, real).sum(-1);
    EXPECT_LE(row_sums.max().item<double>(), 1 + 1e-12);
    EXPECT_GT(row_sums.min().item<double>(), 0.0);
    EXPECT_GE(weights[b].min().item<double>(), 0.0);
    // Nothing comes from padding positions, and padding slots are empty.
    const int64_t len = mask[b].sum().item<int64_t>();
    if (len < 11) EXPECT_EQ(weights[b].narrow(1, len, 11 - len).abs().max().item<double>(), 0.0);
    if (real < 3) EXPECT_EQ(weights[b].narrow(0, real, 3 - real).abs().max().item<double>(), 0.0);
  }
}

TEST(RepresentationPooler, ScorerReceivesGradientsAndHardModeSelectsRows) {
  torch::manual_seed(8);
  RepresentationPoolerOptions options;
  options.dim = 4;
  options.width = 2;
  options.hard_at_inference = true;
  RepresentationPooler pooler(options);
  pooler->to(torch::kDouble);
  auto x = torch::randn({2, 9, 4}, kF64);
  auto mask = prefix_mask({9, 5}, 9);
  auto out = pooler(x, mask, 0);
  (out.pooled.states * torch::randn_like(out.pooled.states)).sum().backward();
  for (const auto& p : pooler->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
  }
  EXPECT_FALSE(out.record.options.hard);
  pooler->eval();
  auto hard = pooler(x, mask, 0);
  EXPECT_TRUE(hard.record.options.hard);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t slot = 0; slot < 2; ++slot) {
      auto distances = (x[b] - hard.pooled.states[b][slot]).abs().sum(-1);
      EXPECT_LT(distances.min().item<double>(), 1e-15);  // an input row, unmixed
    }
}

TEST(SinusoidalPositions, FairseqNumberingAndZeroPadding) {
  auto mask = prefix_mask({3, 1}, 3);
  auto pos = document_positions(mask, /*pad_id=*/0, 6, torch::kDouble);  // (2, 3, 6)
  // fairseq: position p = pad + 1 + j; [sin(p f), cos(p f)], f_i = 10000^(-i / (half - 1)).
  const double f1 = std::pow(10000.0, -0.5);
  EXPECT_NEAR(pos[0][1][0].item<double>(), std::sin(2.0), 1e-15);
  EXPECT_NEAR(pos[0][1][1].item<double>(), std::sin(2.0 * f1), 1e-15);
  EXPECT_NEAR(pos[0][1][3].item<double>(), std::cos(2.0), 1e-15);
  EXPECT_EQ(pos[1].narrow(0, 1, 2).abs().max().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(pos[0][0], pos[1][0]));
}

}  // namespace
}  // namespace pyramidion
