// The demo's corpus on disk and in tokens (data/cohan_writer.h, data/synthetic_encoding.h): the Cohan JSONL it
// writes reads back as it was, and the encoding keeps a class per source token even where words split into pieces.
#include <gtest/gtest.h>

#include "pyramidion/data/cohan_writer.h"
#include "pyramidion/data/readers.h"
#include "pyramidion/data/synthetic_encoding.h"
#include "temp_dir.h"
#include "tokenizer_fixture.h"

namespace pyramidion {
namespace {

TEST(CohanWriter, WhatItWritesReadsBackAsCohanJsonl) {
  testing::TempDir dir;
  const std::vector<data::SummarizationExample> examples = {
      {"a1", {"first sentence .", "a \"quoted\" one ."}, {"the summary .", "two sentences ."}},
      {"a2", {"only one"}, {"short"}}};
  const std::string path = dir.file("test.jsonl");
  data::write_cohan_jsonl(path, examples);
  EXPECT_EQ(data::detect_format(path), data::CorpusFormat::kCohan);
  auto reader = data::open_reader(path);
  data::SummarizationExample read;
  for (const auto& want : examples) {
    ASSERT_TRUE(reader->next(read));
    EXPECT_EQ(read.id, want.id);
    EXPECT_EQ(read.source_sentences, want.source_sentences);
    EXPECT_EQ(read.target_sentences, want.target_sentences);
  }
  EXPECT_FALSE(reader->next(read));
}

TEST(SyntheticEncoding, EveryPieceKeepsItsWordsClass) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  data::SyntheticCorpusOptions options;
  options.min_words = 40;
  options.max_words = 60;
  const data::SyntheticDocument doc = data::SyntheticCorpus(options).document("test", 0);
  const auto e = data::encode_synthetic_document(tokenizer, doc);
  ASSERT_EQ(e.source.size(), e.classes.size());
  std::vector<int64_t> want_source, want_classes;
  for (size_t w = 0; w < doc.words.size(); ++w)
    for (int64_t id : tokenizer.encode(doc.words[w])) {
      want_source.push_back(id);
      want_classes.push_back(static_cast<int64_t>(doc.classes[w]));
    }
  EXPECT_GT(want_source.size(), doc.words.size());  // this tokenizer splits some words: the case that matters
  want_source.push_back(tokenizer.eos_id());
  want_classes.push_back(static_cast<int64_t>(data::TokenClass::kFiller));
  EXPECT_EQ(e.source, want_source);
  EXPECT_EQ(e.classes, want_classes);
  std::vector<int64_t> want_target = tokenizer.encode_sentences(doc.summary);
  want_target.push_back(tokenizer.eos_id());
  EXPECT_EQ(e.target, want_target);
  std::string reference;
  for (const auto& s : doc.summary) reference += (reference.empty() ? "" : "\n") + s;
  EXPECT_EQ(e.reference, reference);
}

}  // namespace
}  // namespace pyramidion
