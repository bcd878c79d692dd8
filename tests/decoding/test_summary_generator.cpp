// SummaryGenerator on a real (tiny, random, float64) model: greedy equals the argmax of the full
// teacher-forced forward pass; batched generation equals one document at a time.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "pyramidion/decoding/summary_generator.h"

namespace pyramidion {
namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 30;
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 24;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.chunk_size = 8;
  c.pooling = {{0, 12}, {1, 6}};
  c.max_source_positions = 64;
  c.max_target_positions = 32;
  return c;
}

SummarizationModel float64_model(uint64_t seed) {
  torch::manual_seed(seed);
  SummarizationModel model(tiny_config());
  model->to(torch::kDouble);
  model->eval();
  return model;
}

std::vector<int64_t> random_document(int64_t length, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto t = torch::randint(4, 30, {length}, gen, torch::kLong);
  std::vector<int64_t> doc(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + length);
  doc.back() = 3;  // EOS
  return doc;
}

TEST(SummaryGenerator, GreedyEqualsArgmaxOfTheFullForwardPass) {
  for (uint64_t seed : {1, 2, 3}) {
    auto model = float64_model(seed);
    auto doc = random_document(40, seed);
    GenerationOptions options;
    options.search.beam = 1;
    options.search.min_len = 2;
    options.search.max_len_b = 12;
    SummaryGenerator generator(model, options);
    auto result = generator.generate({doc});
    ASSERT_EQ(result.size(), 1u);
    ASSERT_EQ(result[0].size(), 1u);

    torch::NoGradGuard no_grad;
    auto source = torch::tensor(doc, torch::kLong).unsqueeze(0);
    auto mask = torch::ones_like(source, torch::kBool);
    std::vector<int64_t> prefix = {model->config().bos_id};
    std::vector<int64_t> greedy;
    for (int64_t step = 0; step <= 12; ++step) {
      auto logits = model->forward(source, mask, torch::tensor(prefix, torch::kLong).unsqueeze(0))[0][-1];
      logits[model->config().pad_id] = -INFINITY;
      if (step < 2) logits[model->config().eos_id] = -INFINITY;
      int64_t next = step == 12 ? model->config().eos_id : logits.argmax().item<int64_t>();
      if (next == model->config().eos_id) break;
      greedy.push_back(next);
      prefix.push_back(next);
    }
    EXPECT_EQ(result[0][0].tokens, greedy) << "seed " << seed;
  }
}

TEST(SummaryGenerator, BatchedEqualsOneByOne) {
  auto model = float64_model(5);
  std::vector<std::vector<int64_t>> docs = {random_document(50, 1), random_document(9, 2), random_document(30, 3),
                                            random_document(13, 4)};
  GenerationOptions options;
  options.search.beam = 3;
  options.search.nbest = 2;
  options.search.max_len_b = 10;
  options.search.no_repeat_ngram_size = 2;
  SummaryGenerator generator(model, options);
  auto batched = generator.generate(docs);
  ASSERT_EQ(batched.size(), docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    auto alone = generator.generate(std::vector<std::vector<int64_t>>{docs[i]});
    ASSERT_EQ(alone[0].size(), batched[i].size());
    for (size_t h = 0; h < alone[0].size(); ++h) {
      EXPECT_EQ(alone[0][h].tokens, batched[i][h].tokens) << "doc " << i << " hyp " << h;
      EXPECT_NEAR(alone[0][h].score, batched[i][h].score, 1e-9);
    }
  }
  // Small batches (one document each) give the same as one big batch.
  options.max_documents_per_batch = 1;
  SummaryGenerator one_at_a_time(model, options);
  auto singles = one_at_a_time.generate(docs);
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(singles[i][0].tokens, batched[i][0].tokens);
}

}  // namespace
}  // namespace pyramidion
