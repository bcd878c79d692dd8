#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "address_space_limit.h"
#include "data/line_source.h"
#include "pyramidion/data/readers.h"
#include "temp_dir.h"
#include "test_support.h"

using namespace pyramidion::data;
using pyramidion::testing::TempDir;

namespace {

std::vector<SummarizationExample> read_all(const std::string& path, const ReaderOptions& options, ReadStats* stats) {
  auto reader = open_reader(path, options);
  std::vector<SummarizationExample> out;
  SummarizationExample example;
  while (reader->next(example)) out.push_back(example);
  if (stats) *stats = reader->stats();
  return out;
}

std::string error_of(const std::string& path, const ReaderOptions& options) {
  try {
    read_all(path, options, nullptr);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Readers, CohanStripsSentenceMarkersAndSkipsEmpty) {
  TempDir dir;
  auto path = dir.write(
      "train.txt",
      R"({"article_id": "a1", "article_text": ["first sentence .", "second one ."], "abstract_text": ["<S> the summary . </S>", "<S> part two . </S>"]})"
      "\n"
      R"({"article_id": "a2", "article_text": [], "abstract_text": ["<S> orphan . </S>"]})"
      "\n"
      "\n"
      R"({"article_id": "a3", "article_text": ["text ."], "abstract_text": ["<S> one . </S> <S> two . </S>"]})"
      "\n"
      R"({"article_id": "a4", "article_text": ["text ."], "abstract_text": ["<S>  </S>"]})"
      "\n");
  EXPECT_EQ(detect_format(path), CorpusFormat::kCohan);
  ReadStats stats;
  auto examples = read_all(path, {}, &stats);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[0].id, "a1");
  EXPECT_EQ(examples[0].source(), "first sentence .\nsecond one .");
  EXPECT_EQ(examples[0].target_sentences, (std::vector<std::string>{"the summary .", "part two ."}));
  EXPECT_EQ(examples[1].id, "a3");
  EXPECT_EQ(examples[1].target_sentences, (std::vector<std::string>{"one .", "two ."}));
  EXPECT_EQ(stats.read, 2);
  EXPECT_EQ(stats.skipped_empty, 2);
  EXPECT_EQ(stats.errors, 0);

  ReaderOptions strict;
  strict.strict = true;
  std::string error = error_of(path, strict);
  EXPECT_NE(error.find("train.txt:2: empty document (id a2)"), std::string::npos) << error;
}

TEST(Readers, ErrorsNameFileAndLine) {
  TempDir dir;
  std::string good = R"({"article_id": "x", "article_text": ["a ."], "abstract_text": ["<S> b . </S>"]})";
  auto path = dir.write("train.txt", good + "\n" + good + "\n" +
                                         R"({"article_id": "y", "article_text": "not a list", "abstract_text": []})" +
                                         "\n" + "{broken json\n" + good + "\n");
  ReaderOptions options;
  options.format = CorpusFormat::kCohan;
  std::string error = error_of(path, options);
  EXPECT_NE(error.find("train.txt:3: field \"article_text\" is not a list of strings"), std::string::npos) << error;

  options.max_errors = 1;  // line 3 tolerated, line 4 is the second error
  error = error_of(path, options);
  EXPECT_NE(error.find("train.txt:4: invalid JSON"), std::string::npos) << error;

  options.max_errors = 5;
  ReadStats stats;
  auto examples = read_all(path, options, &stats);
  EXPECT_EQ(examples.size(), 3u);
  EXPECT_EQ(stats.errors, 2);

  auto missing = dir.write("m.jsonl", R"({"article_id": "z", "abstract_text": []})"
                                      "\n");
  options.max_errors = 0;
  error = error_of(missing, options);
  EXPECT_NE(error.find("m.jsonl:1: field \"article_text\" is missing"), std::string::npos) << error;
}

TEST(Readers, GenericJsonlFieldsStringOrList) {
  TempDir dir;
  auto path = dir.write("d.jsonl", R"({"doc": "line one\nline two", "sum": ["s1", "s2"], "key": 7})"
                                   "\n"
                                   R"({"doc": ["p1", "p2"], "sum": "only<q>two"})"
                                   "\n"
                                   R"({"doc": 5, "sum": "x"})"
                                   "\n");
  EXPECT_EQ(detect_format(path), CorpusFormat::kJsonl);
  ReaderOptions options;
  options.source_field = "doc";
  options.target_field = "sum";
  options.id_field = "key";
  options.target_sentence_delimiter = "<q>";
  options.max_errors = 1;
  ReadStats stats;
  auto examples = read_all(path, options, &stats);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[0].id, "7");
  EXPECT_EQ(examples[0].source_sentences, (std::vector<std::string>{"line one", "line two"}));
  EXPECT_EQ(examples[0].target(), "s1\ns2");
  EXPECT_EQ(examples[1].id, "2");  // no id field: the line number
  EXPECT_EQ(examples[1].target_sentences, (std::vector<std::string>{"only", "two"}));
  EXPECT_EQ(stats.errors, 1);
  options.max_errors = 0;
  std::string error = error_of(path, options);
  EXPECT_NE(error.find("d.jsonl:3: field \"doc\" is neither a string nor a list of strings"), std::string::npos)
      << error;
}

TEST(Readers, TsvAndTextPair) {
  TempDir dir;
  auto tsv = dir.write("pairs.tsv", "source one\ttarget one\n\tempty source\nsource three\ttarget three\nbad line\n");
  EXPECT_EQ(detect_format(tsv), CorpusFormat::kTsv);
  ReaderOptions options;
  options.max_errors = 1;
  ReadStats stats;
  auto examples = read_all(tsv, options, &stats);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[1].source(), "source three");
  EXPECT_EQ(examples[1].target(), "target three");
  EXPECT_EQ(examples[1].id, "3");
  EXPECT_EQ(stats.skipped_empty, 1);
  EXPECT_EQ(stats.errors, 1);
  std::string error = error_of(tsv, {});
  EXPECT_NE(error.find("pairs.tsv:4: expected 2 tab-separated fields, found 1"), std::string::npos) << error;

  dir.write("train.source", "doc a\ndoc b\n");
  dir.write("train.target", "sum a\nsum b\n");
  std::string prefix = dir.file("train");
  EXPECT_EQ(detect_format(prefix), CorpusFormat::kTextPair);
  examples = read_all(prefix, {}, nullptr);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[1].source(), "doc b");
  EXPECT_EQ(examples[1].target(), "sum b");

  dir.write("short.source", "doc a\ndoc b\n");
  dir.write("short.target", "sum a\n");
  error = error_of(dir.file("short.source"), {});
  EXPECT_NE(error.find("short.source:2: has more lines than"), std::string::npos) << error;
}

TEST(Readers, XzCompressedInput) {
  if (std::system("command -v xz >/dev/null 2>&1") != 0) GTEST_SKIP() << "xz not installed";
  TempDir dir;
  auto path = dir.write("c.jsonl",
                        R"({"article_id": "q", "article_text": ["compressed ."], "abstract_text": ["<S> yes . </S>"]})"
                        "\n");
  ASSERT_EQ(std::system(("xz -z " + path).c_str()), 0);
  auto examples = read_all(path + ".xz", {}, nullptr);
  ASSERT_EQ(examples.size(), 1u);
  EXPECT_EQ(examples[0].target(), "yes .");

  auto broken = dir.write("broken.jsonl.xz", "this is not xz data\n");
  ReaderOptions cohan;
  cohan.format = CorpusFormat::kCohan;
  std::string error = error_of(broken, cohan);
  EXPECT_NE(error.find("broken.jsonl.xz"), std::string::npos) << error;
}

TEST(Readers, FormatNames) {
  EXPECT_EQ(parse_corpus_format("text-pair"), CorpusFormat::kTextPair);
  EXPECT_EQ(format_name(CorpusFormat::kCohan), "cohan");
  EXPECT_THROW(parse_corpus_format("csv"), std::invalid_argument);
}

TEST(Readers, CohanSamplePubmedSkipsTheEmptyArticles) {
  PYRAMIDION_REQUIRE_SHARED("data/cohan-sample/pubmed/train.txt");
  // The three known empty PubMed articles sit in the sample's splits; count them across all three.
  int64_t read = 0, skipped = 0;
  for (const char* split : {"train", "val", "test"}) {
    auto path =
        (pyramidion::testing::shared_dir() / "data/cohan-sample/pubmed" / (std::string(split) + ".txt")).string();
    ReadStats stats;
    auto examples = read_all(path, {}, &stats);
    for (const auto& example : examples) {
      EXPECT_FALSE(example.source_sentences.empty());
      EXPECT_FALSE(example.target_sentences.empty());
      for (const auto& sentence : example.target_sentences) {
        EXPECT_EQ(sentence.find("<S>"), std::string::npos) << example.id;
        EXPECT_EQ(sentence.find("</S>"), std::string::npos) << example.id;
      }
      EXPECT_NE(example.id, "PMC1637871");
      EXPECT_NE(example.id, "PMC1469534");
      EXPECT_NE(example.id, "PMC4151783");
    }
    EXPECT_EQ(stats.errors, 0);
    read += stats.read;
    skipped += stats.skipped_empty;
  }
  EXPECT_EQ(read + skipped, 113);
  EXPECT_EQ(skipped, 3);

  auto test_path = (pyramidion::testing::shared_dir() / "data/cohan-sample/pubmed/test.txt").string();
  ReadStats stats;
  auto examples = read_all(test_path, {}, &stats);
  EXPECT_EQ(examples.size(), 11u);
  EXPECT_EQ(stats.skipped_empty, 0);
}

// Issue 21: getline's -1 for a line too large for memory (ENOMEM) or a read error was taken for the end of the file,
// dropping that document and every later one.
TEST(LineSource, ALineLargerThanMemoryIsAnErrorNamingTheLineNotTheEnd) {
  TempDir dir;
  const std::string path = dir.write("huge.jsonl", "{\"a\": 1}\n");
  {
    const int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 9 + (int64_t{4} << 30)), 0);  // 4 GB of NUL bytes, sparse: no disk used
    ::close(fd);
    std::ofstream(path, std::ios::app) << "\n{\"a\": 3}\n";
  }
  LineSource lines(path);
  std::string line;
  ASSERT_TRUE(lines.next(line));
  std::string error = "(no error)";
  {
    pyramidion::testing::AddressSpaceLimit limit(256 << 20);
    if (!limit.active()) GTEST_SKIP() << "cannot limit the address space (or built with AddressSanitizer)";
    try {
      lines.next(line);
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
  }
  EXPECT_EQ(error.rfind(path + ":2: line too long (", 0), 0u) << error;
}

TEST(LineSource, AReadErrorIsAnErrorNamingTheLine) {
  // A directory opens but every read fails (EISDIR).
  TempDir dir;
  std::string error = "(no error)";
  try {
    LineSource lines(dir.path().string());
    std::string line;
    while (lines.next(line)) {
    }
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  EXPECT_EQ(error, dir.path().string() + ":1: read error (Is a directory)");
}
