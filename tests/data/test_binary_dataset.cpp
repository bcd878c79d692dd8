#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/data/prepare.h"
#include "pyramidion/util/peak_memory.h"
#include "tokenizer_fixture.h"

using namespace pyramidion::data;
using pyramidion::testing::TempDir;

namespace {

std::string error_opening(const std::string& path) {
  try {
    BinaryDataset dataset(path);
    dataset.verify();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void write_small_dataset(const std::string& path, int64_t vocab_size) {
  BinaryDatasetWriter writer(path, vocab_size);
  writer.add("first", {5, 6, 7, 3}, {8, 3});
  writer.add("", {}, {9});
  writer.add("third-id", {vocab_size - 1, 3}, {10, 11, 12, 3});
  writer.finish();
}

std::string normalize_spaces(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

TEST(BinaryDataset, WriterReaderRoundTripBothTokenWidths) {
  TempDir dir;
  for (int64_t vocab : {800, 70000}) {
    auto path = dir.file("d" + std::to_string(vocab) + ".bin");
    write_small_dataset(path, vocab);
    BinaryDataset dataset(path);
    dataset.verify();
    EXPECT_EQ(dataset.token_width(), vocab <= 65536 ? 2 : 4);
    EXPECT_EQ(dataset.vocab_size(), vocab);
    ASSERT_EQ(dataset.size(), 3u);
    EXPECT_EQ(dataset.source(0).to_vector(), (std::vector<int64_t>{5, 6, 7, 3}));
    EXPECT_EQ(dataset.target(0).to_vector(), (std::vector<int64_t>{8, 3}));
    EXPECT_TRUE(dataset.source(1).empty());
    EXPECT_EQ(dataset.target(1).to_vector(), (std::vector<int64_t>{9}));
    EXPECT_EQ(dataset.source(2)[0], vocab - 1);
    EXPECT_EQ(dataset.source_length(2), 2u);
    EXPECT_EQ(dataset.target_length(2), 4u);
    EXPECT_EQ(dataset.target_lengths()[0], 2u);
    EXPECT_EQ(dataset.id(0), "first");
    EXPECT_EQ(dataset.id(1), "");
    EXPECT_EQ(dataset.id(2), "third-id");
    EXPECT_EQ(dataset.total_source_tokens(), 6u);
    EXPECT_EQ(dataset.total_target_tokens(), 7u);
    EXPECT_THROW(dataset.source(3), std::out_of_range);
  }
  BinaryDatasetWriter writer(dir.file("bad.bin"), 10);
  EXPECT_THROW(writer.add("x", {10}, {}), std::out_of_range);
}

TEST(BinaryDataset, CorruptFilesFailNamingTheFile) {
  TempDir dir;
  auto path = dir.file("train.bin");
  write_small_dataset(path, 800);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto variant = [&](const std::string& name, std::string content) { return dir.write(name, content); };
  std::string error = error_opening(variant("truncated.bin", bytes.substr(0, bytes.size() - 5)));
  EXPECT_NE(error.find("truncated.bin: truncated or corrupt file"), std::string::npos) << error;
  error = error_opening(variant("tiny.bin", bytes.substr(0, 20)));
  EXPECT_NE(error.find("tiny.bin: not a pyramidion dataset"), std::string::npos) << error;
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  error = error_opening(variant("magic.bin", bad_magic));
  EXPECT_NE(error.find("magic.bin: not a pyramidion dataset (bad magic)"), std::string::npos) << error;
  std::string bad_version = bytes;
  bad_version[8] = 9;
  error = error_opening(variant("version.bin", bad_version));
  EXPECT_NE(error.find("version.bin: unsupported format version 9"), std::string::npos) << error;
  std::string flipped = bytes;
  flipped[64] ^= 0x01;  // first token: the index still adds up, only the checksum notices
  std::string flipped_path = variant("flipped.bin", flipped);
  EXPECT_NO_THROW(BinaryDataset{flipped_path});
  error = error_opening(flipped_path);
  EXPECT_NE(error.find("flipped.bin: checksum mismatch"), std::string::npos) << error;
  std::string bad_length = bytes;
  // Somewhere in the length arrays: before the 13 id bytes, 4 id offsets and 3 pairs of target lengths, and the
  // version 2 extension (3 bytes padding the ids to 8, 24 bytes of checksum and reference counts).
  bad_length[bytes.size() - 27 - 8 * 4 - 13 - 8 * 3 + 0] ^= 0x7f;
  error = error_opening(variant("lengths.bin", bad_length));
  EXPECT_NE(error.find("lengths.bin: "), std::string::npos) << error;
  EXPECT_NE(error_opening(dir.file("absent.bin")).find("absent.bin"), std::string::npos);
}

// FNV-1a over 8-byte little-endian words, the tail zero-padded (the format's checksum, written out here so the
// test does not share the code it checks).
uint64_t fnv_words(const std::string& bytes, size_t from) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = from; i < bytes.size(); i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, bytes.data() + i, std::min<size_t>(8, bytes.size() - i));
    h = (h ^ word) * 0x100000001b3ULL;
  }
  return h;
}

TEST(BinaryDataset, KeepsReferencesAndTheTokenizerChecksumAndReadsVersionOne) {
  TempDir dir;
  {
    BinaryDatasetWriter writer(dir.file("refs.bin"), 50, 0x1234abcdULL);
    writer.add("a", {5, 3}, {6, 3}, "the whole first reference\nwith two sentences");
    writer.add("b", {7, 3}, {8, 3}, "");
    writer.finish();
  }
  BinaryDataset refs(dir.file("refs.bin"));
  EXPECT_NO_THROW(refs.verify());
  EXPECT_EQ(refs.format_version(), 2u);
  EXPECT_EQ(refs.tokenizer_checksum(), 0x1234abcdULL);
  ASSERT_TRUE(refs.has_references());
  EXPECT_EQ(refs.reference(0), "the whole first reference\nwith two sentences");
  EXPECT_EQ(refs.reference(1), "");
  EXPECT_EQ(refs.target(0).to_vector(), (std::vector<int64_t>{6, 3}));
  EXPECT_THROW(refs.reference(2), std::out_of_range);

  // A version 1 file (before the extension): ids of 8 bytes in all, so the extension is exactly the last 24 bytes.
  {
    BinaryDatasetWriter writer(dir.file("v2.bin"), 50);
    writer.add("abcd", {5, 3}, {6, 3});
    writer.add("efgh", {7, 9, 3}, {8, 3});
    writer.finish();
  }
  std::string bytes;
  {
    std::ifstream in(dir.file("v2.bin"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string v1 = bytes.substr(0, bytes.size() - 24);
  v1[8] = 1;  // version
  const uint64_t checksum = fnv_words(v1, 64);
  std::memcpy(&v1[56], &checksum, 8);
  BinaryDataset old(dir.write("v1.bin", v1));
  EXPECT_NO_THROW(old.verify());
  EXPECT_EQ(old.format_version(), 1u);
  EXPECT_EQ(old.tokenizer_checksum(), 0u);
  EXPECT_FALSE(old.has_references());
  EXPECT_EQ(old.reference(0), "");
  EXPECT_EQ(old.source(1).to_vector(), (std::vector<int64_t>{7, 9, 3}));
  EXPECT_EQ(old.id(1), "efgh");
}

TEST(PrepareDataset, RoundTripTruncationCountsAndMeta) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  TempDir dir;
  auto corpus = (pyramidion::testing::shared_dir() / "data/cohan-sample/pubmed").string();
  PrepareOptions options;
  options.tokenizer_path = small->model_path;
  options.splits = {{"train", corpus + "/train.txt"}, {"valid", corpus + "/val.txt"}};
  options.output_dir = dir.file("prepared");
  options.max_source_length = 400;
  options.max_target_length = 120;
  options.threads = 3;
  options.chunk_size = 7;  // several parallel steps, order must survive them
  options.progress = false;
  auto report = prepare_dataset(options);
  ASSERT_EQ(report.splits.size(), 2u);
  EXPECT_EQ(report.splits[0].examples, 88);
  EXPECT_EQ(report.splits[0].read.skipped_empty, 3);
  EXPECT_EQ(report.splits[1].examples, 11);

  auto copied = SentencePieceTokenizer::from_file(dir.file("prepared/spm.model"));
  EXPECT_EQ(copied.serialized(), tokenizer.serialized());
  auto meta = nlohmann::json::parse(std::ifstream(dir.file("prepared/meta.json")));
  EXPECT_EQ(meta["vocab_size"], 800);
  EXPECT_EQ(meta["max_source_length"], 400);
  EXPECT_EQ(meta["splits"]["train"]["examples"], 88);
  EXPECT_EQ(meta["splits"]["train"]["skipped_empty"], 3);
  EXPECT_EQ(meta["special_ids"]["eos"], 3);
  const uint64_t checksum = tokenizer_checksum(tokenizer.serialized());
  EXPECT_EQ(meta["tokenizer_checksum"], tokenizer_checksum_text(checksum));
  {
    BinaryDataset train(dir.file("prepared/train.bin")), valid(dir.file("prepared/valid.bin"));
    EXPECT_EQ(train.tokenizer_checksum(), checksum);
    EXPECT_EQ(valid.tokenizer_checksum(), checksum);
    EXPECT_FALSE(train.has_references());  // only the splits validation and evaluation score
    ASSERT_TRUE(valid.has_references());
    EXPECT_FALSE(valid.reference(0).empty());
  }

  for (size_t s = 0; s < 2; ++s) {
    const auto& split = report.splits[s];
    BinaryDataset dataset(split.output_path);
    dataset.verify();
    ASSERT_EQ(static_cast<int64_t>(dataset.size()), split.examples);
    EXPECT_EQ(dataset.token_width(), 2);
    // Re-read the corpus: the file holds the same examples in the same order.
    auto reader = open_reader(split.input_path);
    SummarizationExample example;
    int64_t source_truncated = 0, target_truncated = 0;
    for (size_t i = 0; i < dataset.size(); ++i) {
      ASSERT_TRUE(reader->next(example));
      EXPECT_EQ(dataset.id(i), example.id);
      auto source = dataset.source(i).to_vector();
      auto target = dataset.target(i).to_vector();
      ASSERT_LE(source.size(), 400u);
      ASSERT_LE(target.size(), 120u);
      EXPECT_EQ(source.back(), tokenizer.eos_id());
      EXPECT_EQ(target.back(), tokenizer.eos_id());
      EXPECT_EQ(dataset.source_length(i), source.size());

      auto full_source = tokenizer.encode(normalize_spaces(example.source()));
      auto full_target = tokenizer.encode_sentences(example.target_sentences);
      bool cut_source = full_source.size() + 1 > 400;
      bool cut_target = full_target.size() + 1 > 120;
      source_truncated += cut_source;
      target_truncated += cut_target;
      EXPECT_EQ(source.size(), std::min<size_t>(full_source.size() + 1, 400));
      EXPECT_TRUE(std::equal(source.begin(), source.end() - 1, full_source.begin())) << example.id;
      std::string decoded_target = tokenizer.decode(target);
      if (!cut_target) {
        EXPECT_EQ(decoded_target, example.target()) << example.id;  // sentence breaks come back as '\n'
      }
      EXPECT_EQ(target.size(), std::min<size_t>(full_target.size() + 1, 120));
      EXPECT_TRUE(std::equal(target.begin(), target.end() - 1, full_target.begin())) << example.id;
      if (!cut_source) EXPECT_EQ(tokenizer.decode(source), normalize_spaces(example.source())) << example.id;
    }
    EXPECT_FALSE(reader->next(example));
    EXPECT_EQ(split.source_truncated, source_truncated);
    EXPECT_EQ(split.target_truncated, target_truncated);
    EXPECT_GT(source_truncated, 0);
  }
}

TEST(PrepareDataset, ShortDocumentsAreNotTruncated) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  TempDir dir;
  auto tsv = dir.write("t.tsv", "the cells were treated .\tthe cells .\nobesity in england .\tobesity .\n");
  PrepareOptions options;
  options.tokenizer_path = small->model_path;
  options.splits = {{"train", tsv}};
  options.output_dir = dir.file("out");
  options.max_source_length = 1000;
  options.max_target_length = 1000;
  options.progress = false;
  auto report = prepare_dataset(options);
  EXPECT_EQ(report.splits[0].source_truncated, 0);
  EXPECT_EQ(report.splits[0].target_truncated, 0);
  BinaryDataset dataset(report.splits[0].output_path);
  ASSERT_EQ(dataset.size(), 2u);
  EXPECT_EQ(tokenizer.decode(dataset.source(1).to_vector()), "obesity in england .");
  EXPECT_EQ(tokenizer.decode(dataset.target(0).to_vector()), "the cells .");
  EXPECT_EQ(dataset.id(1), "2");

  options.max_source_length = 3;  // two tokens and EOS
  report = prepare_dataset(options);
  EXPECT_EQ(report.splits[0].source_truncated, 2);
  BinaryDataset cut(report.splits[0].output_path);
  EXPECT_EQ(cut.source_length(0), 3u);
  EXPECT_EQ(cut.source(0)[2], tokenizer.eos_id());
  EXPECT_EQ(cut.source(0)[0], tokenizer.encode("the cells were treated .")[0]);
}

// Issue 21: a document far longer than the model reads (a 7.7 MB request) was tokenized whole, keeping ~100 bytes of
// memory per input byte, then cut to max_source_length tokens.
TEST(PrepareDataset, AHugeSourceIsCutBeforeItIsTokenized) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  PrepareOptions options;
  options.max_source_length = 16;
  options.max_target_length = 8;
  SummarizationExample example;
  std::string huge;
  while (huge.size() < 8'000'000) huge += "the cells were treated with the drug for five years . ";
  example.source_sentences = {huge, "a second sentence ."};
  example.target_sentences = {"the cells ."};
  std::vector<int64_t> source, target;
  bool source_truncated = false, target_truncated = false;
  pyramidion::PeakMemoryMeter meter{c10::Device(c10::kCPU)};
  meter.start();
  encode_example(tokenizer, example, options, source, target, source_truncated, target_truncated);
  const int64_t peak = meter.peak_bytes();
  EXPECT_TRUE(source_truncated);
  auto expected = tokenizer.encode(huge.substr(0, 4000));
  expected.resize(15);
  expected.push_back(tokenizer.eos_id());
  EXPECT_EQ(source, expected) << "the tokens kept are the same as without the cut";
  if (peak >= 0) EXPECT_LT(peak, int64_t{64} << 20) << "tokenizing 8 MB whole takes hundreds of MB";
}

// BART's framing (model.source_bos / target_bos): BOS + tokens + EOS, the tokens cut to leave room for both; without
// the options the framing is today's (tokens + EOS). meta.json records it and dataset_framing reads it back.
TEST(PrepareDataset, BosFramingOfSourcesAndTargets) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  SummarizationExample example;
  example.source_sentences = {"the cells were treated with the drug ."};
  example.target_sentences = {"the cells .", "the drug ."};
  const auto source_ids = tokenizer.encode("the cells were treated with the drug .");
  const auto target_ids = tokenizer.encode_sentences(example.target_sentences);
  ASSERT_GE(source_ids.size(), 6u);
  ASSERT_GE(tokenizer.bos_id(), 0);
  PrepareOptions options;
  options.max_source_length = 64;
  options.max_target_length = 64;
  std::vector<int64_t> source, target;
  bool source_cut = true, target_cut = true;
  encode_example(tokenizer, example, options, source, target, source_cut, target_cut);
  auto closed = [&](std::vector<int64_t> ids, bool bos) {
    if (bos) ids.insert(ids.begin(), tokenizer.bos_id());
    ids.push_back(tokenizer.eos_id());
    return ids;
  };
  EXPECT_EQ(source, closed(source_ids, false));
  EXPECT_EQ(target, closed(target_ids, false));
  options.source_bos = options.target_bos = true;
  encode_example(tokenizer, example, options, source, target, source_cut, target_cut);
  EXPECT_EQ(source, closed(source_ids, true));
  EXPECT_EQ(target, closed(target_ids, true));
  EXPECT_FALSE(source_cut);
  EXPECT_FALSE(target_cut);
  // Cut to 5 tokens in all: BOS, the first three tokens, EOS.
  options.max_source_length = 5;
  options.target_bos = false;
  encode_example(tokenizer, example, options, source, target, source_cut, target_cut);
  EXPECT_EQ(source, closed({source_ids[0], source_ids[1], source_ids[2]}, true));
  EXPECT_TRUE(source_cut);
  EXPECT_EQ(target, closed(target_ids, false));

  TempDir dir;
  auto corpus = (pyramidion::testing::shared_dir() / "data/cohan-sample/pubmed").string();
  options = PrepareOptions();
  options.tokenizer_path = small->model_path;
  options.splits = {{"train", corpus + "/val.txt"}, {"valid", corpus + "/test.txt"}};
  options.output_dir = dir.file("framed");
  options.max_source_length = 32;
  options.max_target_length = 16;
  options.source_bos = true;
  options.progress = false;
  prepare_dataset(options);
  const DatasetFraming framing = dataset_framing(dir.file("framed"));
  EXPECT_TRUE(framing.source_bos);
  EXPECT_FALSE(framing.target_bos);
  EXPECT_FALSE(framing.source_sentence_separators);
  EXPECT_EQ(dataset_tokenizer_path(dir.file("framed")), dir.file("framed") + "/spm.model");
  BinaryDataset train(dir.file("framed/train.bin"));
  ASSERT_GT(train.size(), 0u);
  for (size_t i = 0; i < train.size(); ++i) {
    EXPECT_EQ(train.source(i)[0], tokenizer.bos_id());
    EXPECT_NE(train.target(i)[0], tokenizer.bos_id());
  }
  const DatasetFraming none = dataset_framing(dir.file("nowhere"));  // no meta.json: today's framing
  EXPECT_FALSE(none.source_bos || none.target_bos || none.source_sentence_separators);
}

TEST(PrepareDataset, TheByteBudgetCutsAtCharacterBoundaries) {
  EXPECT_EQ(kSourceBytesPerToken, 64u);
  std::vector<std::string> s = {"abc",
                                "d\xC3\xA9"
                                "f"};  // é: two bytes; joined: "abc d\xC3\xA9f", 8 bytes
  EXPECT_FALSE(cut_to_byte_budget(s, 8));
  EXPECT_EQ(s, (std::vector<std::string>{"abc",
                                         "d\xC3\xA9"
                                         "f"}));
  EXPECT_TRUE(cut_to_byte_budget(s, 6));  // would end inside é
  EXPECT_EQ(s, (std::vector<std::string>{"abc", "d"}));
  s = {"abc", "def"};
  EXPECT_TRUE(cut_to_byte_budget(s, 4));  // the separator fits, nothing after it
  EXPECT_EQ(s, (std::vector<std::string>{"abc"}));
  s = {"abcdef"};
  EXPECT_TRUE(cut_to_byte_budget(s, 0));
  EXPECT_TRUE(s.empty());
}
