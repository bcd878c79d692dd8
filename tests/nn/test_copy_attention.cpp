// Copy attention through the pooled memory (nn/copy_attention.h), checked against math rather than itself:
// the copy distribution sums to 1 and equals a dense reference (each pooling layer's mixing matrix from the
// operator run on identity vectors, multiplied through, rows renormalized, times one-hot source ids) in float64;
// gradients w.r.t. the attention, the gate, the logits and every pooling layer's scores equal central finite
// differences; with pooling off it is the plain pointer-generator formula; the differentiable trace equals the
// no-grad one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "pyramidion/nn/copy_attention.h"
#include "pyramidion/nn/representation_pooler.h"
#include "pyramidion/ops/successive_halving_trace.h"
#include "tensor_checks.h"

namespace pyramidion {
namespace {

using testing::kF64;
using testing::max_diff;

PoolingRecord record_of(const torch::Tensor& scores, const torch::Tensor& mask, int64_t width) {
  PoolingRecord r;
  r.width = width;
  r.scores = scores;
  r.mask = mask;
  return r;
}

// A batch of documents of different lengths through two pooling layers (n 37 -> 8 -> 3), scores in float64.
struct TwoLayers {
  torch::Tensor source;   // (batch, n) ids
  torch::Tensor mask;     // (batch, n)
  torch::Tensor scores1;  // (batch, n)
  torch::Tensor scores2;  // (batch, 8)
  torch::Tensor mask2;    // (batch, 8) the first pooler's output mask
  int64_t width1 = 8, width2 = 3;
};

TwoLayers make_two_layers(int64_t vocab) {
  torch::manual_seed(21);
  TwoLayers t;
  const std::vector<int64_t> lengths = {37, 20, 6};  // 2 rounds, 2 rounds (padded), passes through
  const int64_t n = 37;
  t.mask = torch::arange(n).unsqueeze(0) < torch::tensor(lengths).unsqueeze(1);
  t.source = torch::randint(4, vocab, {3, n}, torch::kLong).masked_fill(t.mask.logical_not(), 0);
  t.scores1 = torch::rand({3, n}, kF64) * 0.9 + 0.05;
  t.scores2 = torch::rand({3, t.width1}, kF64) * 0.9 + 0.05;
  // The first pooler's output mask, as pool_documents makes it.
  t.mask2 = pool_documents(torch::zeros({3, n, 1}, kF64), t.scores1, t.mask, t.width1, TopKOptions{}).mask;
  return t;
}

CopySources sources_of(const TwoLayers& t, const torch::Tensor& scores1, const torch::Tensor& scores2) {
  SlotProvenance p = source_provenance(t.mask);
  p = pool_provenance(p, record_of(scores1, t.mask, t.width1));
  p = pool_provenance(p, record_of(scores2, t.mask2, t.width2));
  return copy_sources(p, t.source, 0);
}

TEST(CopyAttention, CopyDistributionEqualsTheDenseReference) {
  const int64_t vocab = 19, queries = 4;
  TwoLayers t = make_two_layers(vocab);
  CopySources sources = sources_of(t, t.scores1, t.scores2);
  ASSERT_EQ(sources.ids.size(1), t.width2);
  // Dense reference: mixing matrices from the operator itself (pooling_provenance), multiplied through.
  torch::Tensor d1 = pooling_provenance(record_of(t.scores1, t.mask, t.width1));   // (batch, 8, 37)
  torch::Tensor d2 = pooling_provenance(record_of(t.scores2, t.mask2, t.width2));  // (batch, 3, 8)
  torch::Tensor dense = torch::matmul(d2, d1);                                     // (batch, 3, 37)
  dense = dense / dense.sum(-1, true);                                             // a slot's tokens sum to 1
  torch::Tensor onehot = torch::nn::functional::one_hot(t.source, vocab).to(torch::kDouble);  // (batch, 37, vocab)
  onehot = onehot * t.mask.unsqueeze(-1).to(torch::kDouble);
  torch::Tensor attention = torch::softmax(torch::randn({3, queries, t.width2}, kF64), -1);
  torch::Tensor reference = torch::matmul(torch::matmul(attention, dense), onehot);  // (batch, queries, vocab)
  torch::Tensor copy = copy_distribution(attention, sources, vocab);
  EXPECT_LT(max_diff(copy, reference), 1e-12);
  EXPECT_LT(max_diff(copy.sum(-1), torch::ones({3, queries}, kF64)), 1e-12);
  // Only tokens of the document get mass.
  for (int64_t b = 0; b < 3; ++b) {
    torch::Tensor present = torch::zeros({vocab}, torch::kBool);
    present.index_put_({t.source[b].masked_select(t.mask[b])}, true);
    EXPECT_EQ(
        copy[b].masked_select(present.logical_not().unsqueeze(0).expand({queries, vocab})).abs().max().item<double>(),
        0.0);
  }
}

TEST(CopyAttention, DifferentiableTraceEqualsTheNoGradTrace) {
  torch::manual_seed(5);
  for (bool sort_back : {true, false}) {
    TopKOptions o;
    o.sort_back = sort_back;
    auto scores = torch::rand({2, 50}, kF64) + 1e-5;
    auto mask = torch::arange(50).unsqueeze(0) < torch::tensor({50, 33}).unsqueeze(1);
    TopKTrace a = successive_halving_topk_trace(scores, 6, o, mask);
    TopKTrace b = successive_halving_topk_mixing(scores.clone().requires_grad_(true), 6, o, mask);
    EXPECT_TRUE(torch::equal(a.index, b.index));
    EXPECT_LT(max_diff(a.weight, b.weight.detach()), 1e-13);
    EXPECT_LT(max_diff(a.scores, b.scores.detach()), 1e-13);
  }
}

// Central differences of f at x, element by element.
torch::Tensor numeric_gradient(const std::function<double(const torch::Tensor&)>& f, const torch::Tensor& x) {
  torch::Tensor g = torch::zeros_like(x);
  const double eps = 1e-6;
  auto flat = x.view({-1});
  auto gflat = g.view({-1});
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double v = flat[i].item<double>();
    flat[i] = v + eps;
    const double up = f(x);
    flat[i] = v - eps;
    const double down = f(x);
    flat[i] = v;
    gflat[i] = (up - down) / (2 * eps);
  }
  return g;
}

TEST(CopyAttention, GradientsEqualFiniteDifferences) {
  const int64_t vocab = 13, queries = 3;
  TwoLayers t = make_two_layers(vocab);
  torch::manual_seed(8);
  auto logits = torch::randn({3, queries, vocab}, kF64);
  auto gate_logit = torch::randn({3, queries, 1}, kF64);
  auto attention_logits = torch::randn({3, queries, t.width2}, kF64);
  auto targets = torch::randint(0, vocab, {3, queries}, torch::kLong);
  // Half the targets are tokens of the document, so the copy path carries the gradient.
  targets.select(1, 0).copy_(t.source.select(1, 1));
  auto loss = [&](const torch::Tensor& s1, const torch::Tensor& s2, const torch::Tensor& lg, const torch::Tensor& g,
                  const torch::Tensor& a) {
    CopySources sources = sources_of(t, s1, s2);
    torch::Tensor lp = pointer_generator_log_probs(lg, torch::sigmoid(g), torch::softmax(a, -1), sources);
    return -lp.gather(2, targets.unsqueeze(-1)).sum() - 0.1 * lp.mean();  // NLL + a label-smoothing-like term
  };
  std::vector<torch::Tensor> inputs = {t.scores1.clone(), t.scores2.clone(), logits, gate_logit, attention_logits};
  for (auto& x : inputs) x.requires_grad_(true);
  loss(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]).backward();
  const char* names[] = {"first pooler's scores", "second pooler's scores", "logits", "gate", "attention"};
  for (size_t k = 0; k < inputs.size(); ++k) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> values;
    for (auto& x : inputs) values.push_back(x.detach().clone());
    auto numeric = numeric_gradient(
        [&](const torch::Tensor&) {
          return loss(values[0], values[1], values[2], values[3], values[4]).item<double>();
        },
        values[k]);
    EXPECT_LT(max_diff(inputs[k].grad(), numeric), 1e-6) << names[k];
    EXPECT_GT(inputs[k].grad().abs().max().item<double>(), 1e-4) << names[k] << ": no gradient at all";
  }
}

// The slot entropy that training.pooling_sharpening minimizes: against the dense provenance rows (each source
// position sits in at most one entry of a slot), its gradient w.r.t. both poolers' scores against finite
// differences, and 0 without pooling.
TEST(CopyAttention, ProvenanceEntropyEqualsTheDenseRowsAndItsGradientsTheFiniteDifferences) {
  TwoLayers t = make_two_layers(17);
  torch::Tensor d1 = pooling_provenance(record_of(t.scores1, t.mask, t.width1));   // (batch, 8, 37)
  torch::Tensor d2 = pooling_provenance(record_of(t.scores2, t.mask2, t.width2));  // (batch, 3, 8)
  torch::Tensor dense = torch::matmul(d2, d1);                                     // (batch, 3, 37)
  dense = dense / dense.sum(-1, true);
  double expected = 0;
  int64_t slots = 0;
  for (int64_t b = 0; b < dense.size(0); ++b)
    for (int64_t j = 0; j < dense.size(1); ++j, ++slots)
      for (int64_t i = 0; i < dense.size(2); ++i) {
        const double w = dense[b][j][i].item<double>();
        if (w > 0) expected -= w * std::log(w);
      }
  expected /= static_cast<double>(slots);
  EXPECT_GT(expected, 0.1);  // the random scores leave the slots blurred
  EXPECT_NEAR(provenance_entropy(sources_of(t, t.scores1, t.scores2)).item<double>(), expected, 1e-12);

  auto s1 = t.scores1.clone().requires_grad_(true), s2 = t.scores2.clone().requires_grad_(true);
  provenance_entropy(sources_of(t, s1, s2)).backward();
  torch::NoGradGuard no_grad;
  auto v1 = t.scores1.clone(), v2 = t.scores2.clone();
  auto f = [&](const torch::Tensor&) { return provenance_entropy(sources_of(t, v1, v2)).item<double>(); };
  EXPECT_LT(max_diff(s1.grad(), numeric_gradient(f, v1)), 1e-6);
  EXPECT_LT(max_diff(s2.grad(), numeric_gradient(f, v2)), 1e-6);
  EXPECT_TRUE(torch::isfinite(s1.grad()).all().item<bool>());
  EXPECT_GT(s1.grad().abs().max().item<double>(), 1e-4);

  // Without pooling every slot is one token: entropy 0.
  EXPECT_EQ(provenance_entropy(copy_sources(source_provenance(t.mask), t.source, 0)).item<double>(), 0.0);
}

TEST(CopyAttention, WithoutPoolingItIsThePlainPointerGenerator) {
  torch::manual_seed(9);
  const int64_t vocab = 11, n = 7, queries = 5;
  auto mask = torch::arange(n).unsqueeze(0) < torch::tensor({7, 4}).unsqueeze(1);
  auto source = torch::randint(1, vocab, {2, n}, torch::kLong).masked_fill(mask.logical_not(), 0);
  CopySources sources = copy_sources(source_provenance(mask), source, 0);
  auto attention =
      torch::softmax(torch::randn({2, queries, n}, kF64).masked_fill(mask.logical_not().unsqueeze(1), -INFINITY), -1);
  auto logits = torch::randn({2, queries, vocab}, kF64);
  auto p_gen = torch::rand({2, queries, 1}, kF64);
  // p(v) = p_gen softmax(logits)_v + (1 - p_gen) sum_{i: src_i = v} a_i (See et al. 2017, eq. 9), written out.
  torch::Tensor expected = p_gen * torch::softmax(logits, -1);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t q = 0; q < queries; ++q)
      for (int64_t i = 0; i < n; ++i)
        if (mask[b][i].item<bool>())
          expected[b][q][source[b][i].item<int64_t>()] += (1 - p_gen[b][q][0]) * attention[b][q][i];
  EXPECT_LT(max_diff(pointer_generator_log_probs(logits, p_gen, attention, sources).exp(), expected), 1e-14);
}

TEST(CopyAttention, IndexSelectFollowsTheRows) {
  torch::manual_seed(10);
  auto mask = torch::ones({3, 5}, torch::kBool);
  auto source = torch::randint(1, 9, {3, 5}, torch::kLong);
  CopySources s = copy_sources(source_provenance(mask), source, 0);
  CopySources r = s.index_select(torch::tensor({2, 2, 0}));
  EXPECT_TRUE(torch::equal(r.ids[0], s.ids[2]));
  EXPECT_TRUE(torch::equal(r.ids[2], s.ids[0]));
  EXPECT_TRUE(torch::equal(r.weights[1], s.weights[2]));
}

}  // namespace
}  // namespace pyramidion
