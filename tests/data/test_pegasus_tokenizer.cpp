// PEGASUS's tokenizer (data/pegasus_tokenizer.h) against two references on a PEGASUS-like spiece.model (<pad> 0,
// </s> 1, <unk> 2, <n>; trained by spm_train): Hugging Face's PegasusTokenizer rule reimplemented in Python on the
// sentencepiece module (tests/data/pegasus_reference.py, python3-sentencepiece), and Debian's spm_encode + 103 with
// the special ids written out by hand from tokenization_pegasus.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "pegasus_spiece.h"
#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/data/pegasus_tokenizer.h"
#include "temp_dir.h"
#include "test_support.h"

using namespace pyramidion::data;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

struct Spiece {
  pyramidion::testing::TempDir dir;
  std::string path, bytes;
};

const Spiece* spiece() {
  static const std::unique_ptr<Spiece> made = [] {
    auto s = std::make_unique<Spiece>();
    s->path = pyramidion::testing::make_pegasus_like_spiece(s->dir.path());
    if (s->path.empty()) return std::unique_ptr<Spiece>();
    std::ifstream in(s->path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    s->bytes = buffer.str();
    return s;
  }();
  return made.get();
}

#define REQUIRE_SPIECE()                                                                   \
  const Spiece* sp = spiece();                                                             \
  if (sp == nullptr) GTEST_SKIP() << "spm_train (Debian package sentencepiece) is needed"; \
  const PegasusTokenizer tokenizer = PegasusTokenizer::from_sentencepiece(sp->bytes)

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  if (::pclose(pipe) != 0) throw std::runtime_error("failed: " + command);
  return out;
}

const std::vector<std::string> kPegasusTexts = {
    "the patients were treated with insulin and the results were compared .",
    "a mask <mask_1> in the middle and <mask_2>at the end",
    "special tokens </s> and <pad> then <unk> and <unk_7>, <unk_102> last",
    "<unk_1> is no token and <unk_103> is none either; <unk_10> is one",
    "  leading   and trailing   spaces  ",
    "caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x93 10% of 3.5 \xC2\xB5m, \xEF\xBC\xA1\xEF\xBC\xA2 (full width)",
    "a cat sat on the mat, then the cat ate.<n>the results were higher",
    "",
};

TEST(PegasusTokenizer, SpecialIdsAndOffsetAreHuggingFaces) {
  REQUIRE_SPIECE();
  const int64_t pieces = tokenizer.sentencepiece().vocab_size();
  EXPECT_EQ(tokenizer.offset(), 103);
  EXPECT_EQ(tokenizer.vocab_size(), pieces + 103);
  EXPECT_EQ(tokenizer.pad_id(), 0);
  EXPECT_EQ(tokenizer.eos_id(), 1);
  EXPECT_EQ(tokenizer.bos_id(), -1);
  EXPECT_EQ(tokenizer.unk_id(), 105);  // <unk> is piece 2 of the model
  // From tokenization_pegasus.py's encoder: 0 <pad>, 1 </s>, 2 <mask_1>, 3 <mask_2>, i + 3 <unk_{i+1}> up to 104.
  const std::vector<std::pair<std::string, int64_t>> specials = {{"<pad>", 0},      {"</s>", 1},    {"<mask_1>", 2},
                                                                 {"<mask_2>", 3},   {"<unk_2>", 4}, {"<unk_50>", 52},
                                                                 {"<unk_102>", 104}};
  for (const auto& [text, id] : specials) {
    EXPECT_EQ(tokenizer.piece_to_id(text), id) << text;
    EXPECT_EQ(tokenizer.id_to_piece(id), text);
    EXPECT_EQ(tokenizer.encode(text), std::vector<int64_t>{id}) << text;
  }
  EXPECT_EQ(tokenizer.added_tokens().size(), 105u);
  EXPECT_EQ(tokenizer.id_to_piece(105), "<unk>");
  EXPECT_EQ(tokenizer.encode("<unk>"), std::vector<int64_t>{105});
  EXPECT_EQ(tokenizer.piece_to_id("no-such-piece"), 105);
  // Piece i is id i + 103 from piece 2 on: <n>, the first user piece, is piece 3.
  EXPECT_EQ(tokenizer.sentencepiece().piece_to_id("<n>"), 3);
  EXPECT_EQ(tokenizer.piece_to_id("<n>"), 106);
  EXPECT_EQ(tokenizer.sentence_separator_id(), 106);
  EXPECT_EQ(tokenizer.id_to_piece(pieces + 102), tokenizer.sentencepiece().id_to_piece(pieces - 1));
  EXPECT_THROW(tokenizer.id_to_piece(pieces + 103), std::out_of_range);
  EXPECT_THROW(tokenizer.decode(std::vector<int64_t>{pieces + 103}), std::out_of_range);
  EXPECT_THROW(PegasusTokenizer::from_sentencepiece(sp->bytes, 3), std::invalid_argument);
}

TEST(PegasusTokenizer, IdsEqualSpmEncodePlusTheOffset) {
  REQUIRE_SPIECE();
  if (std::system("command -v spm_encode >/dev/null 2>&1") != 0) GTEST_SKIP() << "spm_encode absent";
  // Texts without special tokens: the ids are spm_encode's + 103, one line each.
  const std::vector<std::string> plain = {kPegasusTexts[0], kPegasusTexts[4], kPegasusTexts[5]};
  const std::string input = sp->dir.file("plain.txt");
  {
    std::ofstream out(input);
    for (const auto& text : plain) out << text << "\n";
  }
  std::istringstream lines(run("spm_encode --model='" + sp->path + "' --output_format=id < '" + input + "'"));
  for (const auto& text : plain) {
    std::string line;
    ASSERT_TRUE(std::getline(lines, line)) << text;
    std::istringstream fields(line);
    std::vector<int64_t> want;
    for (int64_t id; fields >> id;) want.push_back(id + 103);
    EXPECT_EQ(tokenizer.encode(text), want) << text;
  }
  // Around special tokens: the segments' ids, the token's id between them.
  const auto a = tokenizer.encode("the cat"), b = tokenizer.encode("the mat");
  std::vector<int64_t> want = a;
  want.push_back(2);
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(tokenizer.encode("the cat <mask_1> the mat"), want);
  EXPECT_EQ(tokenizer.encode("the cat<mask_1>the mat"), want);
}

TEST(PegasusTokenizer, EncodeAndDecodeEqualHuggingFacesRuleInPython) {
  REQUIRE_SPIECE();
  if (std::system((std::string(kPython) + " -c 'import sentencepiece' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << kPython << " with sentencepiece (Debian package python3-sentencepiece) is needed";
  std::vector<std::vector<int64_t>> ids;
  for (const auto& text : kPegasusTexts) ids.push_back(tokenizer.encode(text));
  // Decode also ids with pad/eos, masks, <unk> and <unk_N> among the pieces.
  std::vector<std::vector<int64_t>> decode = ids;
  decode.push_back({0, 2, 110, 111, 105, 4, 120, 1, 0});
  decode.push_back({3, 104, 103, 130, 131, 132});
  const std::string request = sp->dir.file("request.json");
  std::ofstream(request) << nlohmann::json{{"encode", kPegasusTexts}, {"decode", decode}}.dump();
  const std::string script = (pyramidion::testing::source_dir() / "tests/data/pegasus_reference.py").string();
  const nlohmann::json reference =
      nlohmann::json::parse(run(std::string(kPython) + " " + script + " '" + sp->path + "' 103 < '" + request + "'"));
  EXPECT_EQ(reference["vocab_size"].get<int64_t>(), tokenizer.vocab_size());
  for (size_t i = 0; i < kPegasusTexts.size(); ++i)
    EXPECT_EQ(ids[i], reference["ids"][i].get<std::vector<int64_t>>()) << kPegasusTexts[i];
  for (size_t i = 0; i < decode.size(); ++i) {
    if (std::count(decode[i].begin(), decode[i].end(), tokenizer.sentence_separator_id())) continue;  // "\n" here
    EXPECT_EQ(tokenizer.decode(decode[i]), reference["texts"][i].get<std::string>()) << i;
  }
  // The inverse on ordinary text; pad and EOS are dropped.
  std::vector<int64_t> framed = ids[0];
  framed.push_back(1);
  framed.push_back(0);
  EXPECT_EQ(tokenizer.decode(framed), kPegasusTexts[0]);
  EXPECT_EQ(tokenizer.decode(ids[1]), "a mask<mask_1>in the middle and<mask_2>at the end");  // HF's joining
}

TEST(PegasusTokenizer, SentencesAreJoinedByTheNewlineSymbol) {
  REQUIRE_SPIECE();
  const std::vector<std::string> sentences = {"the cat sat on the mat .", "the results were higher .", "we ran ."};
  const auto ids = tokenizer.encode_sentences(sentences);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 106), 2);
  EXPECT_EQ(tokenizer.decode(ids), "the cat sat on the mat .\nthe results were higher .\nwe ran .");
  EXPECT_EQ(tokenizer.decode_sentences(ids), sentences);
  // <n> written in the text is the same piece (a user-defined symbol of the model).
  EXPECT_EQ(tokenizer.encode("the cat sat on the mat .<n> the results were higher ."),
            tokenizer.encode_sentences({sentences[0], sentences[1]}));
}

TEST(PegasusTokenizer, SerializedFormIsToldApartAndKeepsSpieceModelBytes) {
  REQUIRE_SPIECE();
  const std::string bytes = tokenizer.serialized();
  ASSERT_TRUE(PegasusTokenizer::is_serialized_form(bytes));
  EXPECT_FALSE(PegasusTokenizer::is_serialized_form(sp->bytes));
  EXPECT_FALSE(ByteLevelBpeTokenizer::is_serialized_form(bytes));
  const Tokenizer any = Tokenizer::from_bytes(bytes);
  EXPECT_STREQ(any.kind(), "pegasus_sentencepiece");
  EXPECT_EQ(any.pegasus().sentencepiece_model(), sp->bytes);  // spiece.model unchanged
  EXPECT_EQ(any.serialized(), bytes);
  EXPECT_EQ(any.vocab_size(), tokenizer.vocab_size());
  for (const auto& text : kPegasusTexts) EXPECT_EQ(any.encode(text), tokenizer.encode(text)) << text;
  EXPECT_THROW(any.sentencepiece(), std::logic_error);
  // The plain model still reads as plain SentencePiece (earlier model files).
  const Tokenizer plain = Tokenizer::from_bytes(sp->bytes);
  EXPECT_STREQ(plain.kind(), "sentencepiece");
  EXPECT_EQ(plain.vocab_size() + 103, tokenizer.vocab_size());
  // Damaged forms: one-line errors.
  const size_t newline = bytes.find('\n');
  for (const std::string& bad : {bytes.substr(0, newline), bytes.substr(0, bytes.size() - 1),
                                 std::string("{\"type\":\"pegasus_sentencepiece\",\"version\":2}\n")}) {
    try {
      PegasusTokenizer::from_bytes(bad);
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("serialized PEGASUS tokenizer: ", 0), 0u) << e.what();
    }
  }
}

}  // namespace
