// The operator over device x dtype: every available device and dtype agrees with the float64 CPU result
// (outputs and gradients), within the dtype's precision. CUDA cases run where a GPU is present.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/successive_halving_kernels.h"
#include "pyramidion/ops/successive_halving_topk.h"
#include "pyramidion/ops/successive_halving_topk_reference.h"

namespace pyramidion {
namespace {

struct DeviceDtype {
  torch::Device device;
  torch::ScalarType dtype;
  double tolerance;
};

std::vector<DeviceDtype> available_cases() {
  std::vector<DeviceDtype> cases = {
      {torch::kCPU, torch::kFloat, 2e-5}, {torch::kCPU, torch::kDouble, 1e-12}, {torch::kCPU, torch::kBFloat16, 5e-2}};
  if (torch::cuda::is_available()) {
    cases.push_back({torch::Device(torch::kCUDA, 0), torch::kFloat, 2e-5});
    cases.push_back({torch::Device(torch::kCUDA, 0), torch::kDouble, 1e-12});
    cases.push_back({torch::Device(torch::kCUDA, 0), torch::kBFloat16, 5e-2});
    cases.push_back({torch::Device(torch::kCUDA, 0), torch::kHalf, 1e-2});
  }
  return cases;
}

TEST(SuccessiveHalvingTopKDevices, AgreesWithFloat64CpuOnEveryDeviceAndDtype) {
  torch::manual_seed(21);
  const int64_t batch = 3, n = 200, k = 24, dim = 16;
  auto e64 = torch::randn({batch, n, dim}, torch::kDouble);
  auto s64 = (torch::randperm(batch * n, torch::kDouble).view({batch, n}) + 1) / (batch * n + 1.0);
  auto mask = torch::rand({batch, n}) > 0.1;
  auto up_e = torch::randn({batch, k, dim}, torch::kDouble);
  auto up_s = torch::randn({batch, k}, torch::kDouble);
  for (bool sort_back : {false, true}) {
    TopKOptions options;
    options.sort_back = sort_back;
    auto ev = e64.clone().requires_grad_(true), sv = s64.clone().requires_grad_(true);
    auto want = successive_halving_topk(ev, sv, k, options, mask);
    ((want.embeddings * up_e).sum() + (want.scores * up_s).sum()).backward();
    for (const auto& c : available_cases()) {
      SCOPED_TRACE(c.device.str() + " " + std::string(c10::toString(c.dtype)) + (sort_back ? " sort_back" : ""));
      // copy=true: a same-dtype .to() would return e64 itself and make it a leaf.
      auto e = e64.to(c.device, c.dtype, false, true).requires_grad_(true);
      const bool half = c.dtype == torch::kBFloat16 || c.dtype == torch::kHalf;
      auto s = s64.to(c.device, half ? torch::kFloat : c.dtype, false, true).requires_grad_(true);
      auto got = successive_halving_topk(e, s, k, options, mask.to(c.device));
      EXPECT_EQ(got.embeddings.scalar_type(), c.dtype);
      EXPECT_EQ(got.embeddings.device(), c.device);
      ((got.embeddings.to(torch::kDouble).cpu() * up_e).sum() + (got.scores.to(torch::kDouble).cpu() * up_s).sum())
          .backward();
      auto scale = [](const torch::Tensor& t) { return 1.0 + t.abs().max().item<double>(); };
      EXPECT_LT((got.embeddings.to(torch::kDouble).cpu() - want.embeddings).abs().max().item<double>(),
                c.tolerance * scale(want.embeddings));
      EXPECT_LT((e.grad().to(torch::kDouble).cpu() - ev.grad()).abs().max().item<double>(),
                c.tolerance * scale(ev.grad()));
      // Score gradients pass through base^s (up to 20x) and the mixing: looser in low precision.
      EXPECT_LT((s.grad().to(torch::kDouble).cpu() - sv.grad()).abs().max().item<double>(),
                c.tolerance * 20 * scale(sv.grad()));
    }
  }
}

TEST(SuccessiveHalvingTopKDevices, FusedKernelsMatchTheReferenceComposition) {
  torch::manual_seed(4);
  for (const auto& c : available_cases()) {
    if (c.dtype != torch::kDouble) continue;
    SCOPED_TRACE(c.device.str());
    auto e =
        torch::randn({2, 100, 8}, torch::TensorOptions().dtype(torch::kDouble).device(c.device)).requires_grad_(true);
    auto s = torch::rand({2, 100}, e.options().requires_grad(false)).add_(1e-5).requires_grad_(true);
    TopKOptions options;
    options.sort_back = true;
    auto a = successive_halving_topk(e, s, 7, options);
    auto b = successive_halving_topk_reference(e, s, 7, options);
    EXPECT_LT((a.embeddings - b.embeddings).abs().max().item<double>(), 1e-12);
    EXPECT_LT((a.scores - b.scores).abs().max().item<double>(), 1e-12);
    auto ga = torch::autograd::grad({a.embeddings.sum() + a.scores.sum()}, {e, s});
    auto gb = torch::autograd::grad({b.embeddings.sum() + b.scores.sum()}, {e, s});
    EXPECT_LT((ga[0] - gb[0]).abs().max().item<double>(), 1e-10);
    EXPECT_LT((ga[1] - gb[1]).abs().max().item<double>(), 1e-9);
  }
}

TEST(SuccessiveHalvingTopKDevices, DispatchPicksTheDeviceKernelsThatTakeTheDtype) {
  using ops_detail::halving_kernels_for;
  auto on = [](torch::Device device, torch::ScalarType dtype) {
    return std::string(
        halving_kernels_for(torch::empty({1, 4, 2}, torch::TensorOptions().dtype(dtype).device(device))).name);
  };
  EXPECT_EQ(on(torch::kCPU, torch::kFloat), "cpu");
  EXPECT_EQ(on(torch::kCPU, torch::kDouble), "cpu");
  EXPECT_EQ(on(torch::kCPU, torch::kBFloat16), "generic");
  // A device with no registered kernels (meta here; CUDA in a build without PYRAMIDION_WITH_CUDA).
  EXPECT_EQ(on(torch::kMeta, torch::kFloat), "generic");
#ifndef PYRAMIDION_WITH_CUDA
  if (torch::cuda::is_available()) EXPECT_EQ(on(torch::Device(torch::kCUDA, 0), torch::kFloat), "generic");
#endif
}

TEST(SuccessiveHalvingTopKDevices, RegisteredKernelsTakeTheirDeviceAndOnlyTheirDtypes) {
  // Registers for a device type no other test uses, the way a *_cuda.cu registers for CUDA.
  static const ops_detail::HalvingKernels fake{"fake", [](torch::ScalarType t) { return t == torch::kHalf; },
                                               ops_detail::generic_halving_kernels().forward,
                                               ops_detail::generic_halving_kernels().backward};
  static const ops_detail::HalvingKernelsRegistration registration(c10::DeviceType::Meta, fake);
  auto meta = [](torch::ScalarType dtype) {
    return torch::empty({1, 4, 2}, torch::TensorOptions().dtype(dtype).device(torch::kMeta));
  };
  EXPECT_STREQ(ops_detail::halving_kernels_for(meta(torch::kHalf)).name, "fake");
  EXPECT_STREQ(ops_detail::halving_kernels_for(meta(torch::kFloat)).name, "generic");
  ops_detail::register_halving_kernels(c10::DeviceType::Meta, ops_detail::generic_halving_kernels());
}

TEST(SuccessiveHalvingTopKDevices, CpuKernelsMatchTheGenericKernelsRoundByRound) {
  torch::manual_seed(8);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    SCOPED_TRACE(c10::toString(dtype));
    const double tolerance = dtype == torch::kFloat ? 1e-5 : 1e-12;
    ops_detail::HalvingRound round;
    round.embeddings = torch::randn({3, 34, 19}, dtype);  // dim 19: vector body and tail
    round.scores = torch::rand({3, 34}, dtype).add_(1e-5);
    ops_detail::make_halving_pairs(round, /*flip_right=*/true, /*sort_back=*/false);
    ops_detail::HalvingRound generic_round = round;
    round.weight = torch::empty({3, 17}, dtype);
    generic_round.weight = torch::empty({3, 17}, dtype);
    const auto& cpu = ops_detail::cpu_halving_kernels();
    const auto& generic = ops_detail::generic_halving_kernels();
    ops_detail::HalvingOutput a{torch::empty({3, 17, 19}, dtype), torch::empty({3, 17}, dtype)};
    ops_detail::HalvingOutput b{torch::empty({3, 17, 19}, dtype), torch::empty({3, 17}, dtype)};
    cpu.forward(round, 20.0, a);
    generic.forward(generic_round, 20.0, b);
    EXPECT_LT((a.embeddings - b.embeddings).abs().max().item<double>(), tolerance);
    EXPECT_LT((a.scores - b.scores).abs().max().item<double>(), tolerance);
    EXPECT_LT((round.weight - generic_round.weight).abs().max().item<double>(), tolerance);
    auto ge = torch::randn({3, 17, 19}, dtype), gs = torch::randn({3, 17}, dtype);
    ops_detail::HalvingGrads ga{torch::empty({3, 34, 19}, dtype), torch::empty({3, 34}, dtype)};
    ops_detail::HalvingGrads gb{torch::empty({3, 34, 19}, dtype), torch::empty({3, 34}, dtype)};
    cpu.backward(round, ge, gs, 20.0, ga);
    generic.backward(generic_round, ge, gs, 20.0, gb);
    EXPECT_LT((ga.embeddings - gb.embeddings).abs().max().item<double>(), tolerance);
    EXPECT_LT((ga.scores - gb.scores).abs().max().item<double>(), 20 * tolerance);
    // As the op uses them: the input gradient written over the round's own input, the same bits.
    for (const auto* kernels : {&cpu, &generic}) {
      ops_detail::HalvingRound in_place = kernels == &cpu ? round : generic_round;
      in_place.embeddings = in_place.embeddings.clone();
      ops_detail::HalvingGrads target{in_place.embeddings, torch::empty({3, 34}, dtype)};
      kernels->backward(in_place, ge, gs, 20.0, target);
      EXPECT_TRUE(torch::equal(target.embeddings, (kernels == &cpu ? ga : gb).embeddings)) << kernels->name;
      EXPECT_TRUE(torch::equal(target.scores, (kernels == &cpu ? ga : gb).scores)) << kernels->name;
    }
  }
}

}  // namespace
}  // namespace pyramidion
