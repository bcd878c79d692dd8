// int8 weights per output row with float32 activations (ops/int8_linear.h): the quantize -> dequantize round trip
// is within half a quantization step of every weight and exact on its own output; the one-pass kernel and the
// blocked GEMM agree with the float product of the dequantized matrix; against the original float weights the
// error stays inside the bound the quantization step gives.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "pyramidion/ops/int8_linear.h"

namespace pyramidion {
namespace {

torch::Tensor random_weight(int64_t out, int64_t in, uint64_t seed) {
  torch::manual_seed(seed);
  // Rows of different magnitudes: a per-row scale matters.
  return torch::randn({out, in}) * torch::rand({out, 1}).mul(2).add(0.01);
}

TEST(Int8Linear, QuantizeRoundTripIsWithinHalfAStep) {
  const torch::Tensor w = random_weight(37, 53, 1);
  const Int8Rows q = quantize_rows(w);
  ASSERT_EQ(q.values.scalar_type(), torch::kChar);
  ASSERT_EQ(q.values.sizes(), w.sizes());
  ASSERT_EQ(q.scale.sizes(), torch::IntArrayRef({37}));
  EXPECT_LE(q.values.abs().max().item<int>(), 127);
  // Each row's largest |w| becomes +-127: the full range is used.
  EXPECT_TRUE(torch::equal(q.values.to(torch::kInt).abs().amax(1), torch::full({37}, 127, torch::kInt)));
  const torch::Tensor error = (dequantize_rows(q.values, q.scale) - w).abs();  // (37, 53)
  // Half a step (scale / 2) per element, plus float rounding of the division.
  EXPECT_TRUE((error <= q.scale.unsqueeze(1) * (0.5 + 1e-5)).all().item<bool>()) << error.max();
  // Exact to the scale: the dequantized matrix quantizes to the same values and scales again.
  const Int8Rows again = quantize_rows(dequantize_rows(q.values, q.scale));
  EXPECT_TRUE(torch::equal(again.values, q.values));
  EXPECT_TRUE(torch::allclose(again.scale, q.scale, /*rtol=*/1e-6, /*atol=*/0));
}

TEST(Int8Linear, ZeroRowGetsUnitScale) {
  torch::Tensor w = random_weight(4, 16, 2);
  w[2].zero_();
  const Int8Rows q = quantize_rows(w);
  EXPECT_EQ(q.scale[2].item<float>(), 1.0f);
  EXPECT_EQ(q.values[2].abs().sum().item<int64_t>(), 0);
}

TEST(Int8Linear, KernelsEqualTheFloatProductOfTheDequantizedMatrix) {
  // in: multiples of 8 and not (the kernels' tails); rows: 1, the 2-4 and >= 4 blockings, the GEMM path.
  for (int64_t in : {8, 13, 64, 100})
    for (int64_t rows : {1, 2, 3, 5, 16, 17, 40}) {
      SCOPED_TRACE("in " + std::to_string(in) + ", rows " + std::to_string(rows));
      const Int8Rows q = quantize_rows(random_weight(29, in, 3));
      torch::manual_seed(4);
      const torch::Tensor x = torch::randn({rows, in});
      const torch::Tensor bias = torch::randn({29});
      const torch::Tensor reference =
          torch::linear(x.to(torch::kDouble), dequantize_rows(q.values, q.scale).to(torch::kDouble),
                        bias.to(torch::kDouble));  // (rows, 29)
      const double tolerance = 1e-5 * (reference.abs().max().item<double>() + 1);
      const torch::Tensor y = int8_linear(x, q.values, q.scale, bias);
      EXPECT_LT((y.to(torch::kDouble) - reference).abs().max().item<double>(), tolerance);
      const torch::Tensor one = int8_linear_one_pass(x, q.values, q.scale) + bias;
      const torch::Tensor gemm = int8_linear_blocked_gemm(x, q.values, q.scale) + bias;
      EXPECT_LT((one.to(torch::kDouble) - reference).abs().max().item<double>(), tolerance);
      EXPECT_LT((gemm.to(torch::kDouble) - reference).abs().max().item<double>(), tolerance);
    }
}

TEST(Int8Linear, ErrorAgainstFloatWeightsIsBoundedByTheStep) {
  // Each weight is off by at most half its row's step s_w[o]: |dy[r, o]| <= sum_i |x[r, i]| * s_w[o] / 2. Calls with
  // many multiply-adds go to oneDNN when present, which also rounds the activations to uint8 per call (step
  // s_x = (max x - min x) / 255): + sum_i |w[o, i]| * s_x / 2 + in * s_w[o] * s_x / 4.
  const torch::Tensor w = random_weight(300, 256, 5);  // 300 outputs: more than one GEMM block of 256
  const Int8Rows q = quantize_rows(w);
  for (int64_t rows : {1, 8, 64}) {
    torch::manual_seed(6);
    const torch::Tensor x = torch::randn({rows, 256});
    const torch::Tensor exact = torch::linear(x.to(torch::kDouble), w.to(torch::kDouble));
    const torch::Tensor y = int8_linear(x, q.values, q.scale, torch::Tensor()).to(torch::kDouble);
    const torch::Tensor sw = q.scale.to(torch::kDouble).unsqueeze(0);  // (1, out)
    const double sx = int8_linear_has_onednn() ? (x.max() - x.min()).item<double>() / 255 : 0;
    const torch::Tensor bound = x.abs().sum(1, true).to(torch::kDouble) * sw * 0.5 +
                                w.abs().sum(1).to(torch::kDouble).unsqueeze(0) * sx * 0.5 + 256 * sw * sx * 0.25;
    EXPECT_TRUE(((y - exact).abs() <= bound * 1.001 + 1e-4).all().item<bool>()) << "rows " << rows;
    // In practice the rounding errors cancel: the typical error is a small fraction of the bound.
    EXPECT_LT(((y - exact).abs() / bound).mean().item<double>(), 0.1) << "rows " << rows;
  }
}

TEST(Int8Linear, ResultDoesNotDependOnTheOtherRows) {
  // The one-pass kernel sums each output in a fixed order: a row alone gives the same bits as within a batch.
  const Int8Rows q = quantize_rows(random_weight(64, 40, 7));
  torch::manual_seed(8);
  const torch::Tensor x = torch::randn({6, 40});
  const torch::Tensor batch = int8_linear_one_pass(x, q.values, q.scale);
  for (int64_t r = 0; r < 6; ++r)
    EXPECT_TRUE(torch::equal(int8_linear_one_pass(x.slice(0, r, r + 1), q.values, q.scale), batch.slice(0, r, r + 1)));
}

TEST(Int8Linear, KeepsLeadingDimensionsAndChecksArguments) {
  const Int8Rows q = quantize_rows(random_weight(5, 8, 9));
  const torch::Tensor y = int8_linear(torch::randn({2, 3, 8}), q.values, q.scale, torch::Tensor());
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 3, 5}));
  EXPECT_THROW(int8_linear(torch::randn({2, 7}), q.values, q.scale, torch::Tensor()), c10::Error);
  EXPECT_THROW(int8_linear(torch::randn({2, 8}, torch::kDouble), q.values, q.scale, torch::Tensor()), c10::Error);
  EXPECT_THROW(int8_linear(torch::randn({2, 8}), q.values.to(torch::kFloat), q.scale, torch::Tensor()), c10::Error);
}

}  // namespace
}  // namespace pyramidion
