// The one-pass vocabulary projection of decode steps against the BLAS product, and the model using it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../models/model_test_support.h"
#include "pyramidion/nn/vocabulary_projection.h"

namespace pyramidion {
namespace {

TEST(VocabularyProjection, OnePassKernelEqualsTheMatrixProduct) {
  for (int64_t dim : {256, 37}) {
    auto gen = at::detail::createCPUGenerator(dim);
    auto weight = torch::randn({1000, dim}, gen);
    for (int64_t rows : {1, 2, 8, 16}) {
      auto hidden = torch::randn({rows, dim}, gen);
      auto out = project_rows_one_pass(hidden, weight);
      auto exact = torch::matmul(hidden.to(torch::kDouble), weight.to(torch::kDouble).t());
      EXPECT_LT((out.to(torch::kDouble) - exact).abs().max().item<double>(), 1e-4) << rows << " rows, dim " << dim;
      // A row's logits do not depend on the other rows: batched == one by one, to the bit.
      for (int64_t r = 0; r < rows; ++r)
        EXPECT_TRUE(torch::equal(out[r], project_rows_one_pass(hidden.narrow(0, r, 1), weight)[0]));
    }
  }
}

// The documented summation order, one output at a time: lane l sums the products d = l, l + 8, ... in order,
// the lanes are combined as ((0+4) + (1+5)) + ((2+6) + (3+7)), then the tail (dim % 8) is added.
float documented_dot(const float* w, const float* h, int64_t dim) {
  float acc[8] = {};
  int64_t d = 0;
  for (; d + 8 <= dim; d += 8)
    for (int l = 0; l < 8; ++l) acc[l] += w[d + l] * h[d + l];
  float tail = 0;
  for (; d < dim; ++d) tail += w[d] * h[d];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// Every block shape of the kernel (1..9 rows: 8, 4 or 2 matrix rows at a time, the row and vocabulary remainders)
// gives each output exactly the documented order's bits.
TEST(VocabularyProjection, EveryBlockShapeGivesTheDocumentedSummationOrder) {
  for (int64_t dim : {256, 37}) {
    auto gen = at::detail::createCPUGenerator(dim + 1);
    auto weight = torch::randn({1003, dim}, gen).contiguous();  // 1003: a remainder for every block width
    for (int64_t rows = 1; rows <= 9; ++rows) {
      auto hidden = torch::randn({rows, dim}, gen).contiguous();
      auto out = project_rows_one_pass(hidden, weight).contiguous();  // (rows, 1003)
      const float* w = weight.data_ptr<float>();
      const float* h = hidden.data_ptr<float>();
      const float* o = out.data_ptr<float>();
      int64_t mismatches = 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t v = 0; v < 1003; ++v)
          mismatches += o[r * 1003 + v] != documented_dot(w + v * dim, h + r * dim, dim);
      EXPECT_EQ(mismatches, 0) << rows << " rows, dim " << dim;
    }
  }
}

TEST(VocabularyProjection, KernelOnlyWithoutGradientsAndFewRows) {
  auto weight = torch::randn({50, 8}).requires_grad_(true);
  auto hidden = torch::randn({2, 1, 8});
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(project_to_vocabulary(hidden, weight),
                             project_rows_one_pass(hidden.view({2, 8}), weight).view({2, 1, 50})));
  }
  auto out = project_to_vocabulary(hidden, weight);  // training: the differentiable product
  out.sum().backward();
  ASSERT_TRUE(weight.grad().defined());
  EXPECT_TRUE(torch::allclose(weight.grad(), hidden.view({2, 8}).sum(0).expand({50, 8})));
  auto many = torch::randn({kVocabularyKernelRows + 1, 8});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(project_to_vocabulary(many, weight), torch::matmul(many, weight.t())));
}

// Nothing is cached: after an optimizer step changes the tied embedding in place, decode steps use the new weights.
TEST(VocabularyProjection, DecodeStepsFollowTheEmbeddingAfterAnOptimizerStep) {
  auto config = testing::tiny_config();
  torch::manual_seed(4);
  SummarizationModel model(config);
  model->eval();
  auto batch = testing::random_batch({20, 14}, 20, config.vocab_size);
  auto target = torch::randint(4, config.vocab_size, {2, 5}, torch::kLong);
  target.select(1, 0).fill_(config.bos_id);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.5));
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      sgd.zero_grad();
      model->forward(batch.tokens, batch.mask, target).pow(2).mean().backward();
      sgd.step();
    }
    torch::NoGradGuard no_grad;
    auto memory = model->encode(batch.tokens, batch.mask);
    auto full = model->decode(target, memory);  // (2, 5, vocab), the BLAS product
    auto cache = model->start_decoding(memory);
    for (int64_t t = 0; t < target.size(1); ++t) {
      auto step = model->decode_step(target.select(1, t), cache);  // (2, vocab), the kernel
      EXPECT_LT(testing::max_diff(step, full.select(1, t)), 1e-5) << "round " << round << " step " << t;
    }
  }
}

}  // namespace
}  // namespace pyramidion
