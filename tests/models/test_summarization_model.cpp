// SummarizationModel: padding invariance through blockwise layers and pooling, incremental decoding with cache
// reorder, gradients everywhere, the pooling schedule, backends.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "model_test_support.h"
#include "pyramidion/models/summarization_model.h"

namespace pyramidion {
namespace {

using testing::float64_model;
using testing::max_diff;
using testing::random_batch;
using testing::tiny_config;

TEST(SummarizationModel, EncoderOutputIgnoresBatchPadding) {
  auto model = float64_model(tiny_config());
  // Layer-0 pooling to 8: rounds 0, 0, 1, 1, 2, 3 (and an empty document); layer-2 pooling to 3 then sees 8 or fewer.
  const std::vector<int64_t> lengths = {5, 8, 9, 16, 17, 40, 2};
  torch::manual_seed(12);
  auto batch = random_batch(lengths, 45, 40);
  auto together = model->encode(batch.tokens, batch.mask);
  ASSERT_EQ(together.pooling.size(), 2u);
  EXPECT_FALSE(torch::isnan(together.states).any().item<bool>());
  for (size_t i = 0; i < lengths.size(); ++i) {
    SCOPED_TRACE("document of length " + std::to_string(lengths[i]));
    const int64_t L = lengths[i];
    auto alone = model->encode(batch.tokens[i].narrow(0, 0, L).unsqueeze(0), torch::ones({1, L}, torch::kBool));
    const int64_t m = alone.memory_length();
    EXPECT_EQ(m, std::min<int64_t>({L, 8, 3}));
    EXPECT_TRUE(torch::equal(together.mask[i].narrow(0, 0, m), alone.mask[0]));
    EXPECT_EQ(together.mask[i].sum().item<int64_t>(), alone.mask[0].sum().item<int64_t>());
    EXPECT_LT(max_diff(together.states[i].narrow(0, 0, m), alone.states[0]), 1e-10);
    EXPECT_LT(max_diff(together.pooling[0].scores[i].narrow(0, 0, L), alone.pooling[0].scores[0]), 1e-10);
  }
}

TEST(SummarizationModel, FullyPaddedDocumentGivesNoNaN) {
  auto model = float64_model(tiny_config());
  auto batch = random_batch({12, 0}, 12, 40);
  auto memory = model->encode(batch.tokens, batch.mask);
  EXPECT_FALSE(torch::isnan(memory.states).any().item<bool>());
  EXPECT_EQ(memory.states[1].abs().max().item<double>(), 0.0);
  auto logits = model->decode(torch::full({2, 3}, 2, torch::kLong), memory);
  EXPECT_FALSE(torch::isnan(logits).any().item<bool>());
}

TEST(SummarizationModel, IncrementalDecodingMatchesTeacherForcingAfterReorder) {
  for (bool copy : {false, true}) {
    SCOPED_TRACE(copy ? "copy attention" : "no copy");
    auto config = tiny_config();
    config.copy_attention = copy;
    config.alignment_layer = 0;  // not the last layer: the tap must come from the layer asked for
    auto model = float64_model(config);
    torch::manual_seed(13);
    const int64_t docs = 3, beam = 2, steps = 7;
    auto batch = random_batch({20, 6, 13}, 20, 40);
    auto memory = model->encode(batch.tokens, batch.mask);
    auto expand = torch::arange(docs).repeat_interleave(beam);  // (docs * beam)
    auto beams = memory.index_select(expand);
    ASSERT_EQ(beams.batch_size(), docs * beam);
    auto target = torch::randint(4, 40, {docs * beam, steps}, torch::kLong);
    target.select(1, 0).fill_(model->config().bos_id);

    // Two caches: one started on the expanded memory, one expanded by reorder().
    DecoderCache cache = model->start_decoding(beams);
    DecoderCache cache2 = model->start_decoding(memory);
    cache2.reorder(expand);
    const auto swap = torch::tensor({1, 0, 3, 2, 4, 4});  // beams of the same document change places / duplicate
    auto history = target.clone();                        // the token history each row carries, updated by the reorder
    for (int64_t t = 0; t < steps; ++t) {
      if (t == 3) {
        cache.reorder(swap);
        cache2.reorder(swap);
        history = torch::cat({history.index_select(0, swap).narrow(1, 0, 3), target.narrow(1, 3, steps - 3)}, 1);
      }
      auto step_logits = model->decode_step(history.select(1, t), cache);
      auto step_logits2 = model->decode_step(history.select(1, t), cache2);
      auto full = model->decode(history.narrow(1, 0, t + 1), beams);  // (rows, t + 1, vocab)
      EXPECT_LT(max_diff(step_logits, full.select(1, t)), 1e-9) << "step " << t;
      EXPECT_LT(max_diff(step_logits2, full.select(1, t)), 1e-9) << "step " << t;
      // With copy attention the outputs are the mixture's log-probabilities: they sum to 1 as they are.
      if (copy) EXPECT_LT(max_diff(step_logits.exp().sum(-1), torch::ones({docs * beam}, torch::kDouble)), 1e-9);
    }
    EXPECT_EQ(cache.length(), steps);
  }
}

TEST(SummarizationModel, GradientsReachEveryParameter) {
  for (bool copy : {false, true})
    for (bool pre_norm : {false, true}) {
      auto config = tiny_config();
      config.copy_attention = copy;
      config.normalize_before = pre_norm;
      config.tie_output_projection = !pre_norm;
      torch::manual_seed(14);
      SummarizationModel model(config);
      model->train();
      auto batch = random_batch({30, 20}, 30, config.vocab_size);
      auto target = torch::randint(4, config.vocab_size, {2, 6}, torch::kLong);
      auto logits = model->forward(batch.tokens, batch.mask, target);
      ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 6, config.vocab_size}));
      torch::nn::functional::cross_entropy(logits.reshape({-1, config.vocab_size}), target.reshape({-1})).backward();
      EXPECT_EQ(model->named_parameters().contains("copy_gate.weight"), copy);
      for (const auto& p : model->named_parameters()) {
        ASSERT_TRUE(p.value().grad().defined()) << p.key();
        EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
      }
      EXPECT_EQ(model->parameter_count(), [&] {
        int64_t n = 0;
        for (const auto& p : model->parameters()) n += p.numel();
        return n;
      }());
    }
}

TEST(SummarizationModel, LengthsFollowThePoolingSchedule) {
  auto config = tiny_config();
  config.pooling.schedule = {{0, 20}, {1, 7}, {2, 5}};
  auto model = float64_model(config);
  for (int64_t n : {3, 6, 7, 15, 21, 50}) {
    auto batch = random_batch({n}, n, 40);
    auto memory = model->encode(batch.tokens, batch.mask);
    EXPECT_EQ(memory.memory_length(), config.encoder_lengths(n).back()) << n;
    ASSERT_EQ(memory.pooling.size(), 3u);
    const std::vector<int64_t> inputs = {n, std::min<int64_t>(n, 20), std::min<int64_t>(n, 7)};
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(memory.pooling[i].scores.size(1), inputs[i]);
  }
  EXPECT_EQ(config.encoder_lengths(50), (std::vector<int64_t>{20, 7, 5}));
}

TEST(SummarizationModel, WidthAtLeastLengthMeansNoPooling) {
  auto pooled_config = tiny_config();
  pooled_config.pooling.schedule = {{0, 12}, {1, 30}};
  auto plain_config = pooled_config;
  plain_config.pooling.schedule.clear();
  auto pooled = float64_model(pooled_config);
  auto plain = float64_model(plain_config, 99);
  testing::copy_matching_parameters(*pooled, *plain);
  auto batch = random_batch({12, 5}, 12, 40);
  auto a = pooled->encode(batch.tokens, batch.mask);
  auto b = plain->encode(batch.tokens, batch.mask);
  EXPECT_TRUE(torch::equal(a.states, b.states));  // soft operator at width == length: the identity
  EXPECT_TRUE(torch::equal(a.mask, b.mask));
}

TEST(SummarizationModel, RejectsLeftPaddingAndOverlongInputs) {
  auto model = float64_model(tiny_config());
  auto batch = random_batch({5}, 5, 40);
  auto mask = batch.mask.clone();
  mask[0][0] = false;
  EXPECT_THROW(model->encode(batch.tokens, mask), std::invalid_argument);
  auto long_batch = random_batch({65}, 65, 40);
  EXPECT_THROW(model->encode(long_batch.tokens, long_batch.mask), std::invalid_argument);
}

#if TORCH_VERSION_MAJOR >= 2
TEST(SummarizationModel, FusedAndMathBackendsAgree) {
  auto config = tiny_config();
  auto fused = float64_model(config);
  config.attention_backend = AttentionBackend::math;
  auto math = float64_model(config, 98);
  testing::copy_matching_parameters(*fused, *math);
  auto batch = random_batch({30, 11}, 30, 40);
  auto target = torch::randint(4, 40, {2, 5}, torch::kLong);
  EXPECT_LT(max_diff(fused->forward(batch.tokens, batch.mask, target), math->forward(batch.tokens, batch.mask, target)),
            1e-9);
}
#endif

}  // namespace
}  // namespace pyramidion

namespace pyramidion::testing {
namespace {

// The copy loss alone reaches the poolers' scorers through the provenance weights (the signal to keep what the
// summary copies), not only through the pooled states: with the decoder's vocabulary path cut (p_gen -> 0 by a
// large negative gate bias), the scorers still get a gradient from a target made of source tokens.
TEST(SummarizationModel, CopyLossReachesTheScorersThroughTheProvenance) {
  auto config = tiny_config();
  config.copy_attention = true;
  auto model = float64_model(config);  // eval mode: no dropout, so two forward passes are the same function
  {
    torch::NoGradGuard no_grad;
    model->named_parameters()["copy_gate.bias"].fill_(-40.0);  // p_gen ~ 4e-18: the output is the copy distribution
  }
  torch::manual_seed(3);
  auto batch = random_batch({40, 25}, 40, config.vocab_size);
  auto target = batch.tokens.narrow(1, 0, 5).clone();
  auto scorer = model->named_parameters()["pooler_after_layer_0.scorer.weight"];
  // The same loss twice, the second time with the provenance weights detached: the difference of the scorer's
  // gradients is what reaches it through the provenance (the states reach the loss through the attention too).
  auto scorer_gradient = [&](bool detach_provenance) {
    auto memory = model->encode(batch.tokens, batch.mask);
    if (detach_provenance) memory.copy.weights = memory.copy.weights.detach();
    auto lp = model->decode(target, memory);
    return torch::autograd::grad({-lp.gather(2, target.unsqueeze(-1)).sum()}, {scorer})[0];
  };
  auto with = scorer_gradient(false);
  auto without = scorer_gradient(true);
  EXPECT_GT(max_diff(with, without), 1e-6 * std::max(1.0, with.abs().max().item<double>()));
}

TEST(SummarizationModel, CopyAttentionConfigKeysRoundTripAndOldFilesLoad) {
  ModelConfig old =
      ModelConfig::from_yaml_string("model: {vocab_size: 40, d_model: 16, attention_heads: 2}", "old.yaml");
  EXPECT_FALSE(old.copy_attention);
  EXPECT_EQ(old.alignment_layer, -1);
  EXPECT_EQ(old.alignment_heads, 1);
  auto config = tiny_config();
  config.copy_attention = true;
  config.alignment_layer = 0;
  config.alignment_heads = 2;
  ModelConfig back = ModelConfig::from_yaml_string(config.to_yaml_string(), "round trip");
  EXPECT_TRUE(back.copy_attention);
  EXPECT_EQ(back.alignment_layer, 0);
  EXPECT_EQ(back.alignment_heads, 2);
  EXPECT_EQ(back.resolved_alignment_layer(), 0);
  config.alignment_heads = 3;
  EXPECT_THROW(config.validate(), std::invalid_argument);
  config.alignment_heads = 1;
  config.alignment_layer = 2;
  EXPECT_THROW(config.validate(), std::invalid_argument);
  config.alignment_layer = -2;
  EXPECT_EQ(config.resolved_alignment_layer(), 0);
}

}  // namespace
}  // namespace pyramidion::testing
