// Attention: math path vs a naive reference (and vs at::scaled_dot_product_attention on LibTorch >= 2),
// masking rules, blockwise = full attention per block, padding invariance.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "pyramidion/nn/attention.h"
#include "pyramidion/nn/blockwise_self_attention.h"
#include "tensor_checks.h"

namespace pyramidion {
namespace {

using testing::kF64;

using testing::max_diff;

// Row-by-row softmax attention written without the library's code path.
torch::Tensor naive_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& key_mask, bool causal) {
  auto out = torch::zeros_like(q);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  for (int64_t b = 0; b < q.size(0); ++b)
    for (int64_t h = 0; h < q.size(1); ++h)
      for (int64_t i = 0; i < q.size(2); ++i) {
        std::vector<double> w;
        double total = 0;
        for (int64_t j = 0; j < k.size(2); ++j) {
          bool ok = (!key_mask.defined() || key_mask[b][j].item<bool>()) && (!causal || j <= i);
          double e = ok ? std::exp((q[b][h][i] * k[b][h][j]).sum().item<double>() * scale) : 0.0;
          w.push_back(e);
          total += e;
        }
        if (total == 0) continue;  // no key: zeros
        for (int64_t j = 0; j < k.size(2); ++j) out[b][h][i] += v[b][h][j] * (w[j] / total);
      }
  return out;
}

TEST(Attention, MathPathMatchesNaiveReference) {
  torch::manual_seed(1);
  auto q = torch::randn({2, 2, 5, 3}, kF64), k = torch::randn({2, 2, 5, 3}, kF64), v = torch::randn({2, 2, 5, 3}, kF64);
  auto mask = torch::tensor({1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, torch::kBool).view({2, 5});
  for (bool causal : {false, true}) {
    for (const torch::Tensor& m : {mask, torch::Tensor()}) {
      auto got = scaled_dot_product(q, k, v, m, causal, 0.0, AttentionBackend::math);
      EXPECT_LT(max_diff(got, naive_attention(q, k, v, m, causal)), 1e-12) << "causal " << causal;
    }
  }
  // Cross-attention shape: 3 queries over 5 keys.
  auto q3 = torch::randn({2, 2, 3, 3}, kF64);
  EXPECT_LT(max_diff(scaled_dot_product(q3, k, v, mask, false, 0.0, AttentionBackend::math),
                     naive_attention(q3, k, v, mask, false)),
            1e-12);
}

TEST(Attention, RowsWithoutKeysGiveZerosNotNaN) {
  auto q = torch::randn({2, 2, 4, 3}, kF64), k = torch::randn({2, 2, 4, 3}, kF64), v = torch::randn({2, 2, 4, 3}, kF64);
  auto mask = torch::tensor({0, 0, 0, 0, 1, 0, 0, 0}, torch::kBool).view({2, 4});
  for (auto backend : {AttentionBackend::math, AttentionBackend::automatic}) {
    auto out = scaled_dot_product(q, k, v, mask, false, 0.0, backend);
    EXPECT_FALSE(torch::isnan(out).any().item<bool>());
    EXPECT_EQ(out[0].abs().max().item<double>(), 0.0);
    EXPECT_LT(max_diff(out[1], v[1].narrow(1, 0, 1).expand({2, 4, 3})), 1e-12);  // only key 0 is real
  }
}

#if TORCH_VERSION_MAJOR >= 2
TEST(Attention, FusedPathAgreesWithMathPath) {
  ASSERT_TRUE(fused_attention_compiled());
  torch::manual_seed(2);
  auto q = torch::randn({3, 2, 6, 4}, kF64), k = torch::randn({3, 2, 6, 4}, kF64), v = torch::randn({3, 2, 6, 4}, kF64);
  auto mask = torch::rand({3, 6}) > 0.3;
  mask[2].fill_(false);
  for (bool causal : {false, true})
    for (const torch::Tensor& m : {mask, torch::Tensor()}) {
      auto a = scaled_dot_product(q, k, v, m, causal, 0.0, AttentionBackend::automatic);
      auto b = scaled_dot_product(q, k, v, m, causal, 0.0, AttentionBackend::math);
      EXPECT_LT(max_diff(a, b), 1e-10);
    }
}
#endif

// Same weights, full attention.
BlockwiseSelfAttention full_copy(BlockwiseSelfAttention& blockwise, const MultiheadAttentionOptions& options) {
  BlockwiseSelfAttention full(options, 0);
  full->to(torch::kDouble);
  torch::NoGradGuard no_grad;
  auto source = blockwise->named_parameters();
  for (auto& p : full->named_parameters()) p.value().copy_(*source.find(p.key()));
  full->eval();
  return full;
}

TEST(BlockwiseSelfAttention, EqualsFullAttentionOnEachBlock) {
  torch::manual_seed(3);
  MultiheadAttentionOptions options{8, 2, 0.0};
  BlockwiseSelfAttention blockwise(options, 4);
  blockwise->to(torch::kDouble);
  blockwise->eval();
  auto full = full_copy(blockwise, options);
  const int64_t length = 10;  // blocks of 4, 4 and a partial 2
  auto x = torch::randn({3, length, 8}, kF64);
  auto lengths = torch::tensor({10, 7, 3});
  auto mask = torch::arange(length).unsqueeze(0) < lengths.unsqueeze(1);
  auto out = blockwise(x, mask);
  ASSERT_EQ(out.sizes(), x.sizes());
  EXPECT_FALSE(torch::isnan(out).any().item<bool>());
  for (int64_t start = 0; start < length; start += 4) {
    const int64_t size = std::min<int64_t>(4, length - start);
    auto expected = full(x.narrow(1, start, size), mask.narrow(1, start, size));
    EXPECT_LT(max_diff(out.narrow(1, start, size), expected), 1e-12) << "block at " << start;
  }
  // Document 2 has 3 tokens: its second and third blocks are all padding and come out as zeros.
  EXPECT_EQ(out[2].narrow(0, 4, 6).abs().max().item<double>(), 0.0);
  // Block size never exceeds the input.
  EXPECT_EQ(blockwise->block_size(3), 3);
  EXPECT_EQ(blockwise->block_size(10), 4);
}

// No key mask when nothing is padded (the model passes none then): the same numbers as an all-true mask, for
// full attention, whole blocks and a partial last block (which still masks its own padding).
TEST(BlockwiseSelfAttention, NoMaskEqualsAnAllRealMask) {
  for (int64_t chunk : {0, 4}) {
    for (int64_t length : {12, 10}) {
      torch::manual_seed(5);
      MultiheadAttentionOptions options{8, 2, 0.0};
      BlockwiseSelfAttention attention(options, chunk);
      attention->to(torch::kDouble);
      attention->eval();
      auto x = torch::randn({2, length, 8}, kF64);
      auto all_real = torch::ones({2, length}, torch::kBool);
      EXPECT_TRUE(torch::equal(attention(x, torch::Tensor()), attention(x, all_real)))
          << "chunk " << chunk << " length " << length;
    }
  }
}

TEST(BlockwiseSelfAttention, DocumentOutputIgnoresBatchPadding) {
  torch::manual_seed(4);
  BlockwiseSelfAttention attention(MultiheadAttentionOptions{8, 2, 0.0}, 4);
  attention->to(torch::kDouble);
  attention->eval();
  auto doc = torch::randn({1, 6, 8}, kF64);
  auto alone = attention(doc, torch::ones({1, 6}, torch::kBool));
  for (int64_t padded : {7, 8, 13}) {
    auto x = torch::randn({2, padded, 8}, kF64) * 5;  // garbage in the padding
    x[0].narrow(0, 0, 6).copy_(doc[0]);
    auto mask = torch::ones({2, padded}, torch::kBool);
    mask[0].narrow(0, 6, padded - 6).fill_(false);
    auto out = attention(x, mask);
    EXPECT_LT(max_diff(out[0].narrow(0, 0, 6), alone[0]), 1e-12) << "padded to " << padded;
  }
}

}  // namespace
}  // namespace pyramidion
