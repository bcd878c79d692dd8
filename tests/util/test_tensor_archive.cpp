// The tensor archive: exact round trips for every stored dtype, module state in and out, and clear errors on
// corrupt, truncated or mismatched input.
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <cstring>

#include "pyramidion/util/tensor_archive.h"

namespace pyramidion {
namespace {

TEST(TensorArchive, RoundTripsEveryDtypeAndShapeExactly) {
  torch::manual_seed(3);
  NamedTensors tensors = {
      {"f32", torch::randn({3, 4})},
      {"f64", torch::randn({2, 2, 2}, torch::kDouble)},
      {"bf16", torch::randn({5}).to(torch::kBFloat16)},
      {"f16", torch::randn({1, 7}).to(torch::kHalf)},
      {"i64", torch::randint(-1000, 1000, {4}, torch::kLong)},
      {"i32", torch::randint(-5, 5, {2, 3}, torch::kInt)},
      {"u8", torch::randint(0, 255, {9}, torch::kByte)},
      {"bool", torch::rand({6}) > 0.5},
      {"scalar", torch::tensor(2.5)},
      {"empty", torch::empty({0, 3})},
      {"strided", torch::randn({4, 6}).t()},  // non-contiguous input is stored contiguously
  };
  const auto bytes = serialize_tensors(tensors);
  const auto back = parse_tensors(bytes, "test");
  ASSERT_EQ(back.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(back[i].first, tensors[i].first);
    EXPECT_EQ(back[i].second.scalar_type(), tensors[i].second.scalar_type()) << back[i].first;
    EXPECT_EQ(back[i].second.sizes(), tensors[i].second.sizes()) << back[i].first;
    EXPECT_TRUE(torch::equal(back[i].second, tensors[i].second)) << back[i].first;
  }
}

TEST(TensorArchive, CorruptInputFailsWithTheOriginNamed) {
  const auto bytes = serialize_tensors({{"w", torch::ones({4, 4})}});
  auto expect_error = [](const std::string& input, const std::string& fragment) {
    try {
      parse_tensors(input, "model.pt (weights)");
      ADD_FAILURE() << "no error for: " << fragment;
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("model.pt (weights): ", 0), 0u) << what;
      EXPECT_NE(what.find(fragment), std::string::npos) << what;
    }
  };
  expect_error("nonsense bytes", "not a tensor archive");
  for (size_t cut : {size_t{4}, size_t{12}, size_t{30}, bytes.size() - 1})
    expect_error(bytes.substr(0, cut), "truncated");
  expect_error(bytes + "x", "trailing bytes");
  auto wrong_version = bytes;
  wrong_version[8] = 9;
  expect_error(wrong_version, "version 9");
}

TEST(TensorArchive, AHugeCraftedShapeIsRefusedBeforeAllocating) {
  auto bytes = serialize_tensors({{"w", torch::ones({4, 4})}});
  // The shape (4, 4) and the byte count 64 follow each other in the header: rewrite them to claim 4 TiB.
  std::string pattern(24, '\0');
  const int64_t four = 4;
  const uint64_t sixty_four = 64;
  std::memcpy(&pattern[0], &four, 8);
  std::memcpy(&pattern[8], &four, 8);
  std::memcpy(&pattern[16], &sixty_four, 8);
  const auto at = bytes.find(pattern);
  ASSERT_NE(at, std::string::npos);
  const int64_t big = int64_t{1} << 20;
  const uint64_t claimed = uint64_t{1} << 42;  // (2^20)^2 floats
  std::memcpy(&bytes[at], &big, 8);
  std::memcpy(&bytes[at + 8], &big, 8);
  std::memcpy(&bytes[at + 16], &claimed, 8);
  try {
    parse_tensors(bytes, "crafted.pt");
    ADD_FAILURE() << "a 4 TiB tensor claim was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("crafted.pt: tensor w claims 4398046511104 bytes"), std::string::npos)
        << e.what();
  }
  // A shape whose element count overflows 64 bits.
  const int64_t huge = int64_t{1} << 40;
  std::memcpy(&bytes[at], &huge, 8);
  std::memcpy(&bytes[at + 8], &huge, 8);
  EXPECT_THROW(parse_tensors(bytes, "crafted.pt"), std::runtime_error);
}

TEST(TensorArchive, ModuleStateLoadsAndMismatchesAreNamed) {
  torch::nn::Linear a(3, 2), b(3, 2), wide(4, 2);
  load_module_tensors(*b, module_tensors(*a), "a.pt");
  EXPECT_TRUE(torch::equal(a->weight, b->weight));
  EXPECT_TRUE(torch::equal(a->bias, b->bias));
  try {
    load_module_tensors(*wide, module_tensors(*a), "a.pt");
    ADD_FAILURE() << "shape mismatch accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("weight is [2, 3] in the file but the model needs [2, 4]"), std::string::npos)
        << e.what();
  }
  NamedTensors missing = {{"weight", a->weight}};
  EXPECT_THROW(load_module_tensors(*b, missing, "a.pt"), std::runtime_error);
  NamedTensors extra = module_tensors(*a);
  extra.emplace_back("stray", torch::ones({1}));
  try {
    load_module_tensors(*b, extra, "a.pt");
    ADD_FAILURE() << "unexpected tensor accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected tensor stray"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pyramidion
