// The decoder cache's cheap paths (no autograd): self-attention keys/values in a growing buffer, beams sharing their
// document's cross-attention keys/values, compaction when a document finishes, and the fallback for reorders that
// mix documents. Every step must equal teacher forcing on the same histories.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model_test_support.h"
#include "pyramidion/models/summarization_model.h"

namespace pyramidion {
namespace {

using testing::float64_model;
using testing::max_diff;
using testing::random_batch;
using testing::tiny_config;

TEST(DecoderCache, BuffersSharedMemoryAndCompactionMatchTeacherForcing) {
  torch::NoGradGuard no_grad;  // the in-place buffer path
  auto config = tiny_config();
  config.max_target_positions = 40;
  auto model = float64_model(config);
  torch::manual_seed(21);
  const int64_t docs = 3, beam = 2, steps = 20;  // more steps than the buffer's first capacity (16)
  auto batch = random_batch({20, 6, 13}, 20, config.vocab_size);
  auto memory = model->encode(batch.tokens, batch.mask);

  DecoderCache cache = model->start_decoding(memory);
  cache.reorder(torch::arange(docs).repeat_interleave(beam));
  EXPECT_EQ(cache.batch_size(), docs * beam);
  EXPECT_EQ(cache.memory_group(), beam);  // expanded without copying the memory side
  EXPECT_EQ(cache.memory_mask().size(0), docs);

  // Row i's document and token history, following every reorder.
  auto row_doc = torch::arange(docs).repeat_interleave(beam);
  auto history = torch::randint(4, config.vocab_size, {docs * beam, steps}, torch::kLong);
  history.select(1, 0).fill_(config.bos_id);
  auto check_step = [&](int64_t t) {
    auto logits = model->decode_step(history.select(1, t), cache);
    auto full = model->decode(history.narrow(1, 0, t + 1), memory.index_select(row_doc));
    EXPECT_LT(max_diff(logits, full.select(1, t)), 1e-9) << "step " << t;
  };
  auto reorder = [&](const torch::Tensor& rows, int64_t t) {
    cache.reorder(rows);
    row_doc = row_doc.index_select(0, rows);
    auto kept = history.index_select(0, rows);
    // Tokens before t come from the surviving rows; later ones stay random.
    history = torch::cat(
        {kept.narrow(1, 0, t), torch::randint(4, config.vocab_size, {rows.size(0), steps - t}, torch::kLong)}, 1);
  };
  for (int64_t t = 0; t < steps; ++t) {
    if (t == 3) {
      reorder(torch::tensor({1, 1, 2, 3, 5, 4}), t);  // beams change places within their documents
      EXPECT_EQ(cache.memory_group(), beam);
      EXPECT_EQ(cache.memory_mask().size(0), docs);
    }
    if (t == 8) {
      reorder(torch::tensor({0, 1, 4, 5}), t);  // document 1 finished: its memory row is dropped
      EXPECT_EQ(cache.memory_group(), beam);
      EXPECT_EQ(cache.memory_mask().size(0), 2);
    }
    if (t == 12) {
      reorder(torch::tensor({0, 2, 2, 3, 1}), t);  // documents interleaved unevenly: one memory row per row
      EXPECT_EQ(cache.memory_group(), 1);
      EXPECT_EQ(cache.memory_mask().size(0), 5);
    }
    if (t == 15) {
      // Memory rows are tracked, not documents: rows now use four distinct memory rows (two hold document 2).
      reorder(torch::tensor({0, 3, 1, 2}), t);
      EXPECT_EQ(cache.memory_group(), 1);
      EXPECT_EQ(cache.memory_mask().size(0), 4);
    }
    check_step(t);
  }
  EXPECT_EQ(cache.length(), steps);
  EXPECT_EQ(cache.layers().front().self_length, steps);
  EXPECT_GE(cache.layers().front().self_key.size(2), steps);
}

TEST(DecoderCache, RejectsRowsOutOfRange) {
  auto model = float64_model(tiny_config());
  auto batch = random_batch({5, 3}, 5, tiny_config().vocab_size);
  DecoderCache cache = model->start_decoding(model->encode(batch.tokens, batch.mask));
  EXPECT_THROW(cache.reorder(torch::tensor({0, 2})), c10::Error);
}

}  // namespace
}  // namespace pyramidion
