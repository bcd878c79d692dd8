#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <numeric>
#include <thread>

#include "pyramidion/util/thread_pool.h"
#include "tokenizer_fixture.h"

using namespace pyramidion::data;
using pyramidion::testing::TempDir;

TEST(Tokenizer, SpecialIdsAreFixedAtTraining) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  EXPECT_EQ(tokenizer.vocab_size(), 800);
  EXPECT_EQ(tokenizer.pad_id(), kPadId);
  EXPECT_EQ(tokenizer.unk_id(), kUnkId);
  EXPECT_EQ(tokenizer.bos_id(), kBosId);
  EXPECT_EQ(tokenizer.eos_id(), kEosId);
  EXPECT_EQ(tokenizer.sentence_separator_id(), 4);
  EXPECT_EQ(tokenizer.id_to_piece(4), "<sep>");
  EXPECT_EQ(tokenizer.piece_to_id("<sep>"), 4);
  EXPECT_EQ(tokenizer.id_to_piece(3), "</s>");
  EXPECT_EQ(tokenizer.piece_to_id("no-such-piece-xyz"), tokenizer.unk_id());
  EXPECT_THROW(tokenizer.id_to_piece(800), std::out_of_range);
  EXPECT_THROW(tokenizer.decode(std::vector<int64_t>{5, 800}), std::out_of_range);
}

TEST(Tokenizer, EncodeDecodeRoundTrip) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  const std::string text = "the patients were treated with insulin and the results were compared .";
  auto ids = tokenizer.encode(text);
  ASSERT_FALSE(ids.empty());
  EXPECT_LT(ids.size(), text.size());  // pieces, not characters
  for (int64_t id : ids) {
    EXPECT_GE(id, 5);  // no special ids inside ordinary text
    EXPECT_LT(id, tokenizer.vocab_size());
  }
  EXPECT_EQ(tokenizer.decode(ids), text);
  // BOS/EOS/PAD are dropped by decode.
  std::vector<int64_t> framed = {tokenizer.bos_id()};
  framed.insert(framed.end(), ids.begin(), ids.end());
  framed.push_back(tokenizer.eos_id());
  framed.push_back(tokenizer.pad_id());
  EXPECT_EQ(tokenizer.decode(framed), text);
  EXPECT_TRUE(tokenizer.encode("").empty());
}

TEST(Tokenizer, SentenceSeparatorBecomesNewline) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  std::vector<std::string> sentences = {"obesity is increasing .", "the risk of disease was higher .", "we conclude ."};
  auto ids = tokenizer.encode_sentences(sentences);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tokenizer.sentence_separator_id()), 2);
  EXPECT_EQ(tokenizer.decode(ids), "obesity is increasing .\nthe risk of disease was higher .\nwe conclude .");
  EXPECT_EQ(tokenizer.decode_sentences(ids), sentences);
}

TEST(Tokenizer, FromBytesEqualsFromFile) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  auto from_file = SentencePieceTokenizer::from_file(small->model_path);
  auto from_bytes = SentencePieceTokenizer::from_bytes(from_file.serialized());
  EXPECT_EQ(from_file.serialized(), from_bytes.serialized());
  EXPECT_EQ(from_bytes.vocab_size(), tokenizer.vocab_size());
  const std::string text = "metabolic syndrome and inflammation in aging populations .";
  EXPECT_EQ(from_bytes.encode(text), tokenizer.encode(text));
  EXPECT_EQ(from_file.encode(text), tokenizer.encode(text));
  for (int64_t id = 0; id < tokenizer.vocab_size(); id += 37)
    EXPECT_EQ(from_bytes.id_to_piece(id), tokenizer.id_to_piece(id));
}

TEST(Tokenizer, BadModelsGiveClearErrors) {
  TempDir dir;
  try {
    SentencePieceTokenizer::from_file(dir.file("absent.model"));
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("absent.model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SentencePieceTokenizer::from_bytes("definitely not a model"), std::runtime_error);
  TokenizerTrainOptions options;
  options.input_files = {dir.write("tiny.txt", "a b c\n")};
  options.vocab_size = 5000;  // far more pieces than the text has
  EXPECT_THROW(SentencePieceTokenizer::train(options), std::runtime_error);
}

// The point of dlmopen: this test binary links LibTorch, and tokenizing works alongside torch work.
TEST(Tokenizer, WorksInAProcessUsingLibTorchAcrossThreads) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  EXPECT_FALSE(sentencepiece_library_path().empty());
  auto ids = tokenizer.encode("the cells were treated .");
  auto tensor = torch::tensor(ids, torch::kLong);
  EXPECT_EQ(tensor.size(0), static_cast<int64_t>(ids.size()));
  EXPECT_EQ(tensor.sum().item<int64_t>(), std::accumulate(ids.begin(), ids.end(), int64_t{0}));

  // Concurrent encode/decode on one tokenizer gives the single-threaded answers.
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i)
    texts.push_back("sample number " + std::to_string(i) + " of obesity in england and the us .");
  std::vector<std::vector<int64_t>> expected;
  for (const auto& text : texts) expected.push_back(tokenizer.encode(text));
  pyramidion::ThreadPool pool(4);
  std::atomic<int> mismatches{0};
  pool.parallel_for(texts.size() * 8, [&](size_t i) {
    const auto& text = texts[i % texts.size()];
    auto got = tokenizer.encode(text);
    if (got != expected[i % texts.size()] || tokenizer.decode(got) != text) ++mismatches;
  });
  EXPECT_EQ(mismatches.load(), 0);
}
