// The sparse pooling trace (ops/successive_halving_trace.h, nn/pooling_trace.h): exact for one pooling layer
// (weights @ inputs == pooled states to 1e-9 in float64, for every operator option), composed exactly across
// pooling layers when nothing mixes states between them, equal to the dense pooling_provenance(), per document
// in a padded batch, and O(n) in memory at 16k tokens.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "pyramidion/models/summarization_model.h"
#include "pyramidion/nn/pooling_report.h"
#include "pyramidion/nn/pooling_trace.h"
#include "pyramidion/nn/representation_pooler.h"
#include "pyramidion/ops/successive_halving_trace.h"
#include "tensor_checks.h"

namespace pyramidion {
namespace {

using testing::kF64;
using testing::max_diff;

PoolingRecord record_of(const torch::Tensor& scores, const torch::Tensor& mask, int64_t width, const TopKOptions& o) {
  PoolingRecord r;
  r.layer = 0;
  r.width = width;
  r.options = o;
  r.scores = scores;
  r.mask = mask;
  return r;
}

TEST(PoolingTrace, OneLayerReproducesThePooledStatesForEveryOption) {
  torch::manual_seed(3);
  const int64_t dim = 6;
  const std::vector<TopKOptions> variants = {{20.0, true, true, false},  {20.0, false, true, false},
                                             {20.0, true, false, false}, {3.0, true, true, false},
                                             {20.0, true, true, true},   {20.0, true, false, true}};
  for (const auto& o : variants) {
    for (const auto& [n, width] :
         std::vector<std::pair<int64_t, int64_t>>{{37, 5}, {64, 8}, {9, 8}, {7, 8}, {100, 1}}) {
      SCOPED_TRACE("n " + std::to_string(n) + " width " + std::to_string(width) + " flip " +
                   std::to_string(o.flip_right) + " sort_back " + std::to_string(o.sort_back) + " hard " +
                   std::to_string(o.hard) + " base " + std::to_string(o.base));
      auto states = torch::randn({1, n, dim}, kF64);
      auto scores = torch::rand({1, n}, kF64) + 1e-5;
      auto mask = torch::ones({1, n}, torch::kBool);
      PooledSequence pooled = pool_documents(states, scores, mask, width, o);
      PoolingTrace trace = trace_pooling({record_of(scores, mask, width, o)});
      ASSERT_EQ(trace.layers.size(), 1u);
      const auto& t = trace.layers[0];
      EXPECT_EQ(t.output_length, std::min(n, width));
      // Slot j = sum_e weight * input[index]: exact to rounding.
      torch::Tensor local = trace.dense_local(0);  // (out, n)
      EXPECT_LT(max_diff(torch::matmul(local, states[0]), pooled.states[0]), 1e-9);
      // Rows sum to 1 with the padding entries; the shares sum as documented.
      EXPECT_LT(max_diff(t.weight.sum(1), torch::ones({t.output_length}, kF64)), 1e-12);
      EXPECT_NEAR(trace.token_shares(0).sum().item<double>() + trace.padding_share(0), 1.0, 1e-12);
      // The same numbers as the dense provenance (which re-runs the operator on identity vectors).
      EXPECT_LT(max_diff(local, pooling_provenance(record_of(scores, mask, width, o))[0]), 1e-12);
      // O(n) entries: k * 2^rounds.
      EXPECT_EQ(t.index.numel(), o.hard || n <= width ? t.output_length : width << successive_halving_rounds(n, width));
    }
  }
}

TEST(PoolingTrace, PaddedOperatorInputCarriesItsMassAsPadding) {
  torch::manual_seed(4);
  // 37 inputs, width 5: the operator pads to 40 with zero vectors of score 1e-5; that mass is padding_share.
  auto scores = torch::rand({1, 37}, kF64) + 1e-5;
  PoolingTrace trace = trace_pooling({record_of(scores, torch::ones({1, 37}, torch::kBool), 5, {})});
  const double padding = trace.padding_share(0);
  EXPECT_GE(padding, 0.0);
  EXPECT_LT(padding, 0.5);
  EXPECT_NEAR(trace.token_shares(0).sum().item<double>(), 1.0 - padding, 1e-12);
}

TEST(PoolingTrace, ComposesAcrossPoolingLayersExactly) {
  torch::manual_seed(5);
  const int64_t n = 90, dim = 4;
  const TopKOptions o{};
  auto x0 = torch::randn({1, n, dim}, kF64);
  auto s0 = torch::rand({1, n}, kF64) + 1e-5;
  auto m0 = torch::ones({1, n}, torch::kBool);
  PooledSequence p1 = pool_documents(x0, s0, m0, 20, o);
  auto s1 = torch::rand({1, p1.states.size(1)}, kF64) + 1e-5;
  PooledSequence p2 = pool_documents(p1.states, s1, p1.mask, 6, o);
  PoolingRecord r0 = record_of(s0, m0, 20, o), r1 = record_of(s1, p1.mask, 6, o);
  r1.layer = 1;
  PoolingTrace trace = trace_pooling({r0, r1});
  ASSERT_EQ(trace.layers.size(), 2u);
  EXPECT_EQ(trace.source_length, n);
  // With nothing between the two poolers, the composed weights are exact: dense(1) @ x0 == twice pooled.
  EXPECT_LT(max_diff(torch::matmul(trace.dense(1), x0[0]), p2.states[0]), 1e-9);
  EXPECT_LT(max_diff(torch::matmul(trace.dense(0), x0[0]), p1.states[0]), 1e-9);
  EXPECT_LT(max_diff(trace.layers[1].source_weight.sum(1), torch::ones({6}, kF64)), 1e-12);
  EXPECT_NEAR(trace.token_shares(1).sum().item<double>() + trace.padding_share(1), 1.0, 1e-12);
  // The dense product of the layers' provenance matrices is the same thing.
  auto dense = torch::matmul(pooling_provenance(r1)[0], pooling_provenance(r0)[0]);
  EXPECT_LT(max_diff(trace.dense(1), dense), 1e-12);
}

TEST(PoolingTrace, ARowOfAPaddedBatchIsTracedAsTheDocumentAlone) {
  torch::manual_seed(6);
  const int64_t n = 50, width = 8, dim = 3;
  const std::vector<int64_t> lengths = {50, 17, 8, 3};
  auto states = torch::randn({4, n, dim}, kF64);
  auto scores = torch::rand({4, n}, kF64) + 1e-5;
  auto mask = torch::arange(n).unsqueeze(0) < torch::tensor(lengths).unsqueeze(1);
  PooledSequence pooled = pool_documents(states, scores, mask, width, {});
  const PoolingRecord record = record_of(scores, mask, width, {});
  for (int64_t row = 0; row < 4; ++row) {
    SCOPED_TRACE("row " + std::to_string(row));
    PoolingTrace trace = trace_pooling({record}, row);
    const int64_t L = lengths[static_cast<size_t>(row)], out = std::min(L, width);
    EXPECT_EQ(trace.source_length, L);
    EXPECT_EQ(trace.layers[0].output_length, out);
    EXPECT_LT(max_diff(torch::matmul(trace.dense_local(0), states[row].narrow(0, 0, L)),
                       pooled.states[row].narrow(0, 0, out)),
              1e-9);
  }
}

TEST(PoolingTrace, MatchesTheModelsMemoryProvenance) {
  // A real encoder (two poolers with an encoder layer between them): the trace's composed weights equal
  // memory_provenance (the dense product the demo's pooling report uses) for each document of a batch.
  ModelConfig c;
  c.vocab_size = 40;
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 24;
  c.encoder_layers = 3;
  c.decoder_layers = 1;
  c.chunk_size = 8;
  c.pooling.schedule = {{0, 24}, {1, 7}};
  c.max_source_positions = 128;
  c.max_target_positions = 16;
  torch::manual_seed(7);
  SummarizationModel model(c);
  model->to(torch::kDouble);
  model->eval();
  const std::vector<int64_t> lengths = {100, 30, 20};
  auto source = torch::randint(4, 40, {3, 100}, torch::kLong);
  auto mask = torch::arange(100).unsqueeze(0) < torch::tensor(lengths).unsqueeze(1);
  source = source.masked_fill(mask.logical_not(), c.pad_id);
  EncoderOutput out;
  {
    torch::NoGradGuard no_grad;
    out = model->encode(source, mask);
  }
  auto provenance = memory_provenance(out, 100).to(torch::kDouble);  // (3, memory_len, 100)
  for (int64_t row = 0; row < 3; ++row) {
    SCOPED_TRACE("row " + std::to_string(row));
    PoolingTrace trace = trace_pooling(out.pooling, row);
    const int64_t L = lengths[static_cast<size_t>(row)], slots = trace.layers.back().output_length;
    EXPECT_EQ(slots, out.mask[row].sum().item<int64_t>());
    EXPECT_LT(max_diff(trace.dense(1), provenance[row].narrow(0, 0, slots).narrow(1, 0, L)), 1e-6);  // float32 there
  }
}

TEST(PoolingTrace, SixteenThousandTokensStayLinearInMemory) {
  torch::manual_seed(8);
  const int64_t n = 16384;
  auto s0 = torch::rand({1, n}, torch::kFloat) + 1e-5;
  auto s1 = torch::rand({1, 1024}, torch::kFloat) + 1e-5;
  PoolingRecord r0 = record_of(s0, torch::ones({1, n}, torch::kBool), 1024, {});
  PoolingRecord r1 = record_of(s1, torch::ones({1, 1024}, torch::kBool), 256, {});
  r1.layer = 1;
  PoolingTrace trace = trace_pooling({r0, r1});
  // n entries per layer where the dense provenance would hold 16384 x 1024.
  EXPECT_EQ(trace.layers[0].source_index.numel(), n);
  EXPECT_EQ(trace.layers[1].source_index.numel(), n);
  EXPECT_NEAR(trace.token_shares(1).sum().item<double>() + trace.padding_share(1), 1.0, 1e-6);  // float32 weights
  // Every position appears exactly once in the composed lists (each round pairs every element once).
  auto counts = torch::bincount(trace.layers[1].source_index.reshape({-1}), {}, n);
  EXPECT_TRUE(torch::equal(counts, torch::ones({n}, torch::kLong)));
}

TEST(SuccessiveHalvingTrace, RejectsBadArguments) {
  EXPECT_THROW(successive_halving_topk_trace(torch::rand({4}), 2), std::invalid_argument);
  EXPECT_THROW(successive_halving_topk_trace(torch::rand({1, 4}), 0), std::invalid_argument);
  EXPECT_THROW(successive_halving_topk_trace(torch::rand({1, 4}), 2, {}, torch::ones({1, 3}, torch::kBool)),
               std::invalid_argument);
}

}  // namespace
}  // namespace pyramidion
