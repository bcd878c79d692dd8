#pragma once
// One small SentencePiece model (vocabulary 800) trained once per test binary on cohan-sample text.
#include <memory>

#include "pyramidion/data/tokenizer.h"
#include "pyramidion/data/training_text.h"
#include "temp_dir.h"
#include "test_support.h"

namespace pyramidion::testing {

struct SmallTokenizer {
  TempDir dir;
  std::string model_path;
  std::unique_ptr<data::SentencePieceTokenizer> tokenizer;
};

// nullptr when ../shared is absent.
inline SmallTokenizer* small_tokenizer() {
  static std::unique_ptr<SmallTokenizer> trained = []() -> std::unique_ptr<SmallTokenizer> {
    auto corpus = shared_dir() / "data/cohan-sample/pubmed/train.txt";
    if (!std::filesystem::exists(corpus)) return nullptr;
    auto small = std::make_unique<SmallTokenizer>();
    data::TrainingTextOptions text;
    text.max_documents = 40;
    std::string text_path = small->dir.file("text.txt");
    data::extract_training_text({corpus.string()}, text_path, text);
    data::TokenizerTrainOptions options;
    options.input_files = {text_path};
    options.vocab_size = 800;
    options.threads = 2;
    options.output_path = small->model_path = small->dir.file("spm.model");
    small->tokenizer = std::make_unique<data::SentencePieceTokenizer>(data::SentencePieceTokenizer::train(options));
    return small;
  }();
  return trained.get();
}

}  // namespace pyramidion::testing

#define PYRAMIDION_REQUIRE_SMALL_TOKENIZER()                       \
  PYRAMIDION_REQUIRE_SHARED("data/cohan-sample/pubmed/train.txt"); \
  auto* small = ::pyramidion::testing::small_tokenizer();          \
  ASSERT_NE(small, nullptr);                                       \
  const auto& tokenizer = *small->tokenizer
