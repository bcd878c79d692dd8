// Successive-halving top-k: the authors' reference outputs, finite differences, batching, hard mode, errors.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "pyramidion/ops/successive_halving_topk.h"
#include "pyramidion/ops/successive_halving_topk_reference.h"
#include "test_support.h"

namespace pyramidion {
namespace {

using nlohmann::json;
const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

// Nested JSON lists -> a float64 tensor of the given shape.
torch::Tensor tensor_from(const json& value, std::vector<int64_t> shape) {
  std::vector<double> flat;
  std::function<void(const json&)> walk = [&](const json& v) {
    if (v.is_array()) {
      for (const auto& x : v) walk(x);
    } else {
      flat.push_back(v.get<double>());
    }
  };
  walk(value);
  return torch::tensor(flat, kF64).view(shape);
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(SuccessiveHalvingTopK, MatchesAuthorsReferenceOutputsAndGradients) {
  PYRAMIDION_REQUIRE_SHARED("golden/topk/reference_cases.json");
  std::ifstream in(testing::shared_dir() / "golden/topk/reference_cases.json");
  json doc = json::parse(in);
  ASSERT_GE(doc["cases"].size(), 13u);
  int index = 0;
  for (const auto& c : doc["cases"]) {
    SCOPED_TRACE("case " + std::to_string(index++));
    const int64_t batch = c["batch"], n = c["seq_len"], k = c["k"], dim = c["dim"];
    auto e = tensor_from(c["embeddings"], {batch, n, dim}).requires_grad_(true);
    auto s = tensor_from(c["scores"], {batch, n}).requires_grad_(true);
    TopKOptions options;
    options.base = c["base"];
    options.flip_right = c["flip_right"];
    options.sort_back = c["sort_back"];
    auto out = successive_halving_topk(e, s, k, options);
    auto want_e = tensor_from(c["out_embeddings"], {batch, k, dim});
    auto want_s = tensor_from(c["out_scores"], {batch, k});
    ASSERT_EQ(out.embeddings.sizes(), want_e.sizes());
    EXPECT_LT(max_abs_diff(out.embeddings, want_e), 1e-9);
    EXPECT_LT(max_abs_diff(out.scores, want_s), 1e-9);
    auto loss = (out.embeddings * tensor_from(c["grad_out_embeddings"], {batch, k, dim})).sum() +
                (out.scores * tensor_from(c["grad_out_scores"], {batch, k})).sum();
    loss.backward();
    EXPECT_LT(max_abs_diff(e.grad(), tensor_from(c["grad_embeddings"], {batch, n, dim})), 1e-9);
    EXPECT_LT(max_abs_diff(s.grad(), tensor_from(c["grad_scores"], {batch, n})), 1e-9);
  }
}

struct GradCase {
  int64_t batch, n, k, dim;
  TopKOptions options;
  bool masked;
};

// Central differences in float64 against the analytic backward, for embeddings and scores.
TEST(SuccessiveHalvingTopK, GradientsMatchFiniteDifferences) {
  torch::manual_seed(7);
  std::vector<GradCase> cases = {
      {2, 8, 2, 3, {}, false},
      {1, 13, 3, 4, {}, false},  // padding to 24
      {2, 16, 4, 2, {20.0, false, false, false}, false},
      {2, 16, 4, 2, {20.0, true, true, false}, false},
      {3, 10, 4, 3, {5.0, true, true, false}, true},  // mask + padding
      {1, 7, 1, 2, {}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("n=" + std::to_string(c.n) + " k=" + std::to_string(c.k));
    auto e = torch::randn({c.batch, c.n, c.dim}, kF64);
    // Scores kept apart so that no tie or near-tie reorders under the perturbation.
    auto s = (torch::randperm(c.batch * c.n, kF64).view({c.batch, c.n}) + 1) / (c.batch * c.n + 1.0);
    torch::Tensor mask;
    if (c.masked) {
      mask = torch::ones({c.batch, c.n}, torch::kBool);
      mask.index_put_({0, torch::indexing::Slice(c.n - 3, c.n)}, false);
    }
    auto up_e = torch::randn({c.batch, c.k, c.dim}, kF64);
    auto up_s = torch::randn({c.batch, c.k}, kF64);
    auto objective = [&](const torch::Tensor& ee, const torch::Tensor& ss) {
      auto out = successive_halving_topk(ee, ss, c.k, c.options, mask);
      return (out.embeddings * up_e).sum() + (out.scores * up_s).sum();
    };
    auto ev = e.clone().requires_grad_(true);
    auto sv = s.clone().requires_grad_(true);
    objective(ev, sv).backward();
    const double h = 1e-6;
    for (int64_t i = 0; i < e.numel(); ++i) {
      auto ep = e.clone(), em = e.clone();
      ep.view(-1)[i] += h;
      em.view(-1)[i] -= h;
      double fd = (objective(ep, s).item<double>() - objective(em, s).item<double>()) / (2 * h);
      ASSERT_NEAR(ev.grad().view(-1)[i].item<double>(), fd, 1e-6) << "embedding " << i;
    }
    for (int64_t i = 0; i < s.numel(); ++i) {
      auto sp = s.clone(), sm = s.clone();
      sp.view(-1)[i] += h;
      sm.view(-1)[i] -= h;
      double fd = (objective(e, sp).item<double>() - objective(e, sm).item<double>()) / (2 * h);
      ASSERT_NEAR(sv.grad().view(-1)[i].item<double>(), fd, 1e-6) << "score " << i;
    }
  }
}

TEST(SuccessiveHalvingTopK, BatchedEqualsOneByOneBitForBit) {
  torch::manual_seed(11);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (bool sort_back : {false, true}) {
      const int64_t batch = 5, n = 300, k = 37, dim = 16;
      auto e = torch::randn({batch, n, dim}, torch::TensorOptions().dtype(dtype)).requires_grad_(true);
      auto s = torch::rand({batch, n}, torch::TensorOptions().dtype(dtype)).add_(1e-5).requires_grad_(true);
      auto mask = torch::rand({batch, n}) > 0.2;
      TopKOptions options;
      options.sort_back = sort_back;
      auto up = torch::randn({batch, k, dim}, e.options().requires_grad(false));
      auto out = successive_halving_topk(e, s, k, options, mask);
      (out.embeddings * up).sum().add((out.scores * 3).sum()).backward();
      for (int64_t b = 0; b < batch; ++b) {
        auto eb = e.detach()[b].unsqueeze(0).clone().requires_grad_(true);
        auto sb = s.detach()[b].unsqueeze(0).clone().requires_grad_(true);
        auto one = successive_halving_topk(eb, sb, k, options, mask[b].unsqueeze(0));
        (one.embeddings * up[b].unsqueeze(0)).sum().add((one.scores * 3).sum()).backward();
        EXPECT_TRUE(torch::equal(one.embeddings[0], out.embeddings[b])) << "example " << b;
        EXPECT_TRUE(torch::equal(one.scores[0], out.scores[b]));
        EXPECT_TRUE(torch::equal(eb.grad()[0], e.grad()[b]));
        EXPECT_TRUE(torch::equal(sb.grad()[0], s.grad()[b]));
      }
    }
  }
}

TEST(SuccessiveHalvingTopK, HugeBaseConvergesToHardTopK) {
  torch::manual_seed(3);
  const int64_t batch = 3, n = 64, k = 8, dim = 5;
  auto e = torch::randn({batch, n, dim}, kF64);
  // Well-separated scores: with a huge base every pair weight saturates to 0/1.
  auto s = (torch::randperm(batch * n, kF64).view({batch, n}) + 1) / (batch * n + 1.0);
  for (bool sort_back : {false, true}) {
    TopKOptions soft{1e6, true, sort_back, false};
    TopKOptions hard{20.0, true, sort_back, true};
    auto a = successive_halving_topk(e, s, k, soft);
    auto b = successive_halving_topk(e, s, k, hard);
    // Sort rows by their score so the comparison is order-free where orders legitimately differ.
    auto ia = std::get<1>(a.scores.sort(1, true)), ib = std::get<1>(b.scores.sort(1, true));
    auto ra = a.embeddings.gather(1, ia.unsqueeze(-1).expand({batch, k, dim}));
    auto rb = b.embeddings.gather(1, ib.unsqueeze(-1).expand({batch, k, dim}));
    EXPECT_LT(max_abs_diff(ra, rb), 1e-8);
  }
}

TEST(SuccessiveHalvingTopK, HardModeEqualsTorchTopKRowsAndPassesGradients) {
  torch::manual_seed(5);
  const int64_t batch = 4, n = 50, k = 12, dim = 6;
  auto e = torch::randn({batch, n, dim}).requires_grad_(true);
  auto s = torch::rand({batch, n});
  TopKOptions hard;
  hard.hard = true;
  hard.sort_back = false;  // selection order = torch::topk order
  auto out = successive_halving_topk(e, s, k, hard);
  auto [values, index] = torch::topk(s, k, 1, true, true);
  auto want = e.detach().gather(1, index.unsqueeze(-1).expand({batch, k, dim}));
  EXPECT_TRUE(torch::equal(out.embeddings.detach(), want));
  EXPECT_TRUE(torch::equal(out.scores, values));
  out.embeddings.sum().backward();
  // Exactly the selected rows receive gradient 1.
  EXPECT_EQ(e.grad().sum().item<float>(), static_cast<float>(batch * k * dim));
  EXPECT_TRUE(
      torch::equal(e.grad().gather(1, index.unsqueeze(-1).expand({batch, k, dim})), torch::ones({batch, k, dim})));

  hard.sort_back = true;
  auto ordered = successive_halving_topk(e.detach(), s, k, hard);
  auto sorted_index = std::get<0>(index.sort(1));
  EXPECT_TRUE(
      torch::equal(ordered.embeddings, e.detach().gather(1, sorted_index.unsqueeze(-1).expand({batch, k, dim}))));

  // Ties: the lower index wins.
  auto tied = torch::full({1, 6}, 0.5);
  auto rows = torch::arange(6, torch::kFloat).view({1, 6, 1});
  auto tie = successive_halving_topk(rows, tied, 3, hard);
  EXPECT_TRUE(torch::equal(tie.embeddings.view({3}), torch::tensor({0.f, 1.f, 2.f})));
}

TEST(SuccessiveHalvingTopK, EdgeCasesAndInvariants) {
  auto e = torch::randn({2, 8, 3}, kF64);
  auto s = torch::rand({2, 8}, kF64).add_(1e-5);
  // k >= n: unchanged.
  auto same = successive_halving_topk(e, s, 8);
  EXPECT_TRUE(torch::equal(same.embeddings, e));
  EXPECT_TRUE(torch::equal(same.scores, s));
  auto mask = torch::ones({2, 8}, torch::kBool);
  mask.index_put_({1, 7}, false);
  auto masked = successive_halving_topk(e, s, 10, {}, mask);
  EXPECT_EQ(masked.embeddings[1][7].abs().sum().item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(masked.scores[1][7].item<double>(), kTopKPaddingScore);
  // Outputs are convex combinations: scores stay in the inputs' range, and the score mass of the
  // soft weights sums to one per pair so k == 1 of constant vectors returns that vector.
  auto out = successive_halving_topk(e, s, 3);
  EXPECT_EQ(out.embeddings.sizes(), (std::vector<int64_t>{2, 3, 3}));
  EXPECT_LE(out.scores.max().item<double>(), s.max().item<double>() + 1e-12);
  auto constant = torch::ones({1, 16, 4}, kF64) * 2.5;
  auto one = successive_halving_topk(constant, torch::rand({1, 16}, kF64), 1);
  EXPECT_LT(max_abs_diff(one.embeddings, torch::full({1, 1, 4}, 2.5, kF64)), 1e-12);
  EXPECT_EQ(successive_halving_rounds(8192, 512), 4);
  EXPECT_EQ(successive_halving_rounds(300, 37), 4);  // 37 * 16 = 592 >= 300 > 296
  EXPECT_EQ(successive_halving_rounds(5, 5), 0);
  // A masked position never outweighs a real one: all-real result is unaffected by masked padding rows.
  auto wide = torch::cat({e, torch::randn({2, 8, 3}, kF64) * 100}, 1);
  auto wide_s = torch::cat({s, torch::ones({2, 8}, kF64)}, 1);
  auto wide_mask = torch::cat({torch::ones({2, 8}, torch::kBool), torch::zeros({2, 8}, torch::kBool)}, 1);
  auto a = successive_halving_topk(e, s, 2, {20.0, true, true, false});
  auto b = successive_halving_topk(wide, wide_s, 2, {20.0, true, true, false}, wide_mask);
  EXPECT_LT(b.embeddings.abs().max().item<double>(), 50.0);  // no masked row leaked through
  EXPECT_EQ(a.embeddings.sizes(), b.embeddings.sizes());
}

// The op reuses its workspace: round outputs in one buffer, each round's input gradient written over that round's
// saved input. Repeated calls give the same bits, and the gradients still match the per-example reference.
TEST(SuccessiveHalvingTopK, WorkspaceReuseGivesIdenticalResultsAcrossCallsAndMatchesTheReference) {
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    auto gen = at::detail::createCPUGenerator(77);
    auto e = torch::randn({3, 37, 6}, gen, dtype).requires_grad_(true);  // padded to 40, 3 rounds to k 5
    auto s = (torch::rand({3, 37}, gen, dtype) + 1e-5).requires_grad_(true);
    auto ge = torch::randn({3, 5, 6}, gen, dtype), gs = torch::randn({3, 5}, gen, dtype);
    std::vector<torch::Tensor> first;
    for (int call = 0; call < 3; ++call) {
      auto out = successive_halving_topk(e, s, 5);
      torch::autograd::backward({out.embeddings, out.scores}, {ge, gs});
      std::vector<torch::Tensor> now = {out.embeddings.detach().clone(), out.scores.detach().clone(), e.grad().clone(),
                                        s.grad().clone()};
      e.mutable_grad().reset();
      s.mutable_grad().reset();
      if (call == 0) first = now;
      for (size_t i = 0; i < now.size(); ++i)
        EXPECT_TRUE(torch::equal(now[i], first[i])) << "call " << call << " #" << i;
    }
    auto e64 = e.detach().to(torch::kDouble).requires_grad_(true);
    auto s64 = s.detach().to(torch::kDouble).requires_grad_(true);
    auto ref = successive_halving_topk_reference(e64, s64, 5);
    torch::autograd::backward({ref.embeddings, ref.scores}, {ge.to(torch::kDouble), gs.to(torch::kDouble)});
    const double tol = dtype == torch::kDouble ? 1e-10 : 1e-4;
    EXPECT_TRUE(torch::allclose(first[0].to(torch::kDouble), ref.embeddings, tol, tol));
    EXPECT_TRUE(torch::allclose(first[2].to(torch::kDouble), e64.grad(), tol, tol));
    EXPECT_TRUE(torch::allclose(first[3].to(torch::kDouble), s64.grad(), tol, tol));
  }
}

// The backward consumes the saved activations: a second backward through the same forward is refused with a
// message, never wrong numbers.
TEST(SuccessiveHalvingTopK, SecondBackwardThroughOneForwardFailsClearly) {
  auto e = torch::randn({1, 16, 4}).requires_grad_(true);
  auto out = successive_halving_topk(e, torch::rand({1, 16}) + 1e-5, 2);
  auto loss = out.embeddings.sum();
  loss.backward({}, /*retain_graph=*/true);
  try {
    loss.backward();
    FAIL() << "expected an error";
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find("second backward"), std::string::npos) << error.what();
  }
}

TEST(SuccessiveHalvingTopK, BadInputsThrowClearErrors) {
  auto e = torch::randn({2, 8, 3});
  auto s = torch::rand({2, 8});
  auto expect_message = [](const std::function<void()>& f, const std::string& fragment) {
    try {
      f();
      ADD_FAILURE() << "no exception, expected: " << fragment;
    } catch (const std::invalid_argument& ex) {
      EXPECT_NE(std::string(ex.what()).find(fragment), std::string::npos) << ex.what();
    }
  };
  expect_message([&] { successive_halving_topk(e.view({16, 3}), s, 2); }, "embeddings must be (batch, n, dim)");
  expect_message([&] { successive_halving_topk(e, s.view({16}), 2); }, "scores must be (batch, n)");
  expect_message([&] { successive_halving_topk(e, torch::rand({2, 7}), 2); }, "do not match");
  expect_message([&] { successive_halving_topk(e, s, 0); }, "k must be >= 1");
  expect_message([&] { successive_halving_topk(e, s, -3); }, "k must be >= 1");
  expect_message([&] { successive_halving_topk(e, s, 2, {}, torch::ones({2, 9}, torch::kBool)); }, "mask");
  expect_message([&] { successive_halving_topk(e, s, 2, {}, torch::ones({2, 8})); }, "bool");
  auto nan_scores = s.clone();
  nan_scores.index_put_({1, 3}, std::nan(""));
  expect_message([&] { successive_halving_topk(e, nan_scores, 2); }, "NaN");
}

}  // namespace
}  // namespace pyramidion
