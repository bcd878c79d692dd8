// ByteLevelBpeTokenizer (GPT-2/BART byte-level BPE). Without network there is no real BART vocabulary, so the
// tests build their own: merges counted from a small corpus, all 256 byte pieces, BART's special tokens. The
// reference is Hugging Face's JavaScript tokenizers (tests/data/bpe_reference/, npm), run in node on the same
// tokenizer.json; that comparison skips when node or the npm package cannot be had.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "data/byte_level_pretokenizer.h"
#include "data/unicode_classes.h"
#include "data/utf8_text.h"
#include "pyramidion/data/byte_level_bpe.h"
#include "pyramidion/data/tokenizer.h"
#include "temp_dir.h"

using namespace pyramidion::data;
using nlohmann::json;
using pyramidion::testing::TempDir;

namespace {

const char* kCorpus =
    "The quick brown fox jumps over the lazy dog. The dog doesn't care; it's sleeping and it'll keep sleeping.\n"
    "We've seen 12345 foxes in 2023, and they're all quick: 3.14 of them were brown!\n"
    "Café résumé naïve Über straße. Ελληνικά και Русский текст. 中文字符测试 日本語のテキスト 한국어 문장.\n"
    "Numbers like 1,000,000 and 42 appear; emoji 🤖🎉 too. The the the the quick quick brown brown.\n"
    "    indented code(x) { return x + 1; }\n\tand tabs\t\there. Summarization of long documents with pooling.\n"
    "Transformers summarize scientific articles, patents and government reports; pooling selects the tokens\n"
    "that matter. Reviewers weren't convinced: \"Where's the ablation?\" they'd ask, again and again.\n";

// BART's special pieces, in BART's ids; <mask> comes last, after the merges.
const std::vector<std::string> kLeadingSpecials = {"<s>", "<pad>", "</s>", "<unk>"};

struct TinyBpe {
  std::vector<std::string> pieces;  // index = id
  std::vector<std::pair<std::string, std::string>> merges;
  int64_t mask_id = -1;
};

std::vector<std::string> byte_symbols_of(const std::string& word) {
  std::vector<std::string> out;
  for (unsigned char c : word) out.push_back(byte_level_symbols()[c]);
  return out;
}

// BPE training in its plainest form: repeatedly merge the most frequent adjacent pair (ties: the smallest pair),
// down to pairs seen once, so that the tiny corpus still gives a few hundred merges.
TinyBpe train_tiny_bpe(const std::string& corpus, int merges) {
  std::map<std::string, int> word_counts;
  for (auto [begin, end] : gpt2_pre_tokenize(corpus)) ++word_counts[corpus.substr(begin, end - begin)];
  std::vector<std::pair<std::vector<std::string>, int>> words;
  for (const auto& [word, count] : word_counts) words.emplace_back(byte_symbols_of(word), count);

  TinyBpe bpe;
  bpe.pieces = kLeadingSpecials;
  for (int b = 0; b < 256; ++b) bpe.pieces.push_back(byte_level_symbols()[b]);
  for (int m = 0; m < merges; ++m) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [symbols, count] : words)
      for (size_t i = 0; i + 1 < symbols.size(); ++i) pairs[{symbols[i], symbols[i + 1]}] += count;
    auto best = pairs.end();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (best == pairs.end() || it->second > best->second) best = it;
    if (best == pairs.end()) break;  // every word is one piece
    const auto [left, right] = best->first;
    bpe.merges.emplace_back(left, right);
    if (std::find(bpe.pieces.begin(), bpe.pieces.end(), left + right) == bpe.pieces.end())
      bpe.pieces.push_back(left + right);
    for (auto& [symbols, count] : words) {
      std::vector<std::string> merged;
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
          merged.push_back(left + right);
          ++i;
        } else {
          merged.push_back(symbols[i]);
        }
      }
      symbols = std::move(merged);
    }
  }
  bpe.mask_id = static_cast<int64_t>(bpe.pieces.size());
  bpe.pieces.push_back("<mask>");
  return bpe;
}

const TinyBpe& tiny_bpe() {
  static const TinyBpe bpe = train_tiny_bpe(kCorpus, 300);
  return bpe;
}

json vocab_json(const TinyBpe& bpe) {
  json vocab = json::object();
  for (size_t id = 0; id < bpe.pieces.size(); ++id) vocab[bpe.pieces[id]] = id;
  return vocab;
}

json added_token(int64_t id, const std::string& content, bool lstrip, bool rstrip, bool special = true) {
  return {{"id", id},         {"content", content},  {"single_word", false}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", false}, {"special", special}};
}

// A tokenizer.json as HF tokenizers writes BART's (RobertaProcessing post-processor, ByteLevel everywhere).
json tokenizer_json(const TinyBpe& bpe, bool add_prefix_space, bool array_merges) {
  json merges = json::array();
  for (const auto& [left, right] : bpe.merges)
    merges.push_back(array_merges ? json::array({left, right}) : json(left + " " + right));
  json added = json::array();
  for (size_t id = 0; id < kLeadingSpecials.size(); ++id)
    added.push_back(added_token(id, kLeadingSpecials[id], false, false));
  added.push_back(added_token(bpe.mask_id, "<mask>", true, false));
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "RobertaProcessing"},
        {"sep", {"</s>", 2}},
        {"cls", {"<s>", 0}},
        {"trim_offsets", true},
        {"add_prefix_space", add_prefix_space}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab_json(bpe)},
        {"merges", merges}}}};
}

std::string merges_txt(const TinyBpe& bpe) {
  std::string text = "#version: 0.2\n";
  for (const auto& [left, right] : bpe.merges) text += left + " " + right + "\n";
  return text;
}

// The files of one tiny tokenizer, written once per test.
struct TinyFiles {
  TempDir dir;
  std::string vocab, merges, tokenizer, tokenizer_prefix_space;
  TinyFiles() {
    vocab = dir.write("vocab.json", vocab_json(tiny_bpe()).dump());
    merges = dir.write("merges.txt", merges_txt(tiny_bpe()));
    tokenizer = dir.write("tokenizer.json", tokenizer_json(tiny_bpe(), false, false).dump(2));
    tokenizer_prefix_space = dir.write("tokenizer_prefix.json", tokenizer_json(tiny_bpe(), true, true).dump(2));
  }
};

// Texts that exercise each branch of GPT-2's pattern, Unicode classes, whitespace runs and added tokens.
// Not here: U+0085 and U+FEFF, where JavaScript's \s differs from Oniguruma's (see the test further down).
const std::vector<std::string> kTexts = {
    "The quick brown fox jumps over the lazy dog.",
    "Hello world",
    "I'm here, they're there; we've, you'll, he'd, she's, it't.",
    "'s 'S 'LL 'Re 'sup ''s ' s don't DON'T",
    "numbers 12345 and 3.14 and 1,000,000 and 2023 ٣٤٥ ½ Ⅻ ²",
    "multiple   spaces  here",
    "trailing spaces   ",
    "   leading spaces",
    "tabs\tand\t\ttabs \t mixed",
    "new\nlines\n\n\nend\n",
    "windows\r\nline\r\n",
    " \t\n x",
    "naïve café résumé Ünïcödé straße",
    "Ελληνικά και Русский текст",
    "中文字符测试 日本語のテキスト 한국어 문장",
    "عربي עברית हिन्दी",
    "emoji 🤖🎉 👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
    "combining e\u0301 and a\u0308",
    "a<mask>b",
    "a <mask> b",
    "a   <mask>   b",
    "<mask><mask> <mask>",
    "<s>start</s> <pad><unk>",
    "<mas k> <<mask>> <MASK> mask>",
    "Hello!!! ... ?! @user #tag $100 %50 ^&*() [x] {y}",
    "quotes \"double\" 'single' `back` «guillemets» „low“",
    "",
    " ",
    "\n",
    "  \n  ",
    "U.S.A. e.g. i.e. Mr. Smith",
    "non\u00a0breaking ideographic\u3000space em\u2003space",
    "control \x01\x02\x7f chars",
    "supercalifragilisticexpialidocioussupercalifragilisticexpialidocious",
    "    indented code(x) { return x + 1; }",
    "The the the the quick quick brown brown.",
};

// Random texts from fragments where the pattern's alternatives meet (fixed seed: failures reproduce).
std::vector<std::string> random_texts(size_t count) {
  const std::vector<std::string> fragments = {
      "a",    "The",      " quick", "fox", "é",    "ß", "中", "한", "1",  "42", "½",      "٣",    ".",      "!",
      "?!",   "'",        "'s",     "'ll", "'re",  "s", "t",  " ",  "  ", "\n", "\t",     "\r\n", "\u00a0", "\u3000",
      "🤖", "👍🏽", "<mask>", "<s>", "</s>", "<", ">",  "-",  "_",  "\"", "\u0301", "x"};
  std::mt19937 rng(26);
  std::vector<std::string> texts;
  for (size_t i = 0; i < count; ++i) {
    std::string text;
    for (size_t n = rng() % 12; n > 0; --n) text += fragments[rng() % fragments.size()];
    texts.push_back(text);
  }
  return texts;
}

bool has_bos_eos_pad(const std::string& text) {
  return text.find("<s>") != std::string::npos || text.find("</s>") != std::string::npos ||
         text.find("<pad>") != std::string::npos;
}

std::vector<std::string> words_as_symbols(const std::string& text) {
  std::vector<std::string> out;
  for (auto [begin, end] : gpt2_pre_tokenize(text)) {
    std::string word;
    for (const auto& symbol : byte_symbols_of(text.substr(begin, end - begin))) word += symbol;
    out.push_back(word);
  }
  return out;
}

}  // namespace

TEST(ByteLevelBpe, ByteSymbolsAreGpt2s) {
  const auto& symbols = byte_level_symbols();
  EXPECT_EQ(symbols[' '], "Ġ");
  EXPECT_EQ(symbols['\n'], "Ċ");
  EXPECT_EQ(symbols['\t'], "ĉ");
  EXPECT_EQ(symbols['a'], "a");
  EXPECT_EQ(symbols[0], "Ā");
  EXPECT_EQ(symbols[0xAD], "Ń");  // the soft hyphen is not printable: it is the last of the shifted ones
  EXPECT_EQ(symbols[0xE9], "é");
  for (int b = 0; b < 256; ++b) {
    auto cps = utf8_code_points(symbols[b]);
    ASSERT_EQ(cps.size(), 1u);
    EXPECT_EQ(byte_level_byte(cps[0].value), b);
  }
  EXPECT_EQ(byte_level_byte(U'€'), -1);
}

TEST(ByteLevelBpe, UnicodeClasses) {
  for (char32_t cp : {U'a', U'Z', U'é', U'ß', U'Ω', U'Ж', U'中', U'ア', U'한', U'ع'})
    EXPECT_TRUE(is_unicode_letter(cp)) << cp;
  for (char32_t cp : {U'0', U'9', U'٣', U'½', U'Ⅻ', U'²'}) EXPECT_TRUE(is_unicode_number(cp)) << cp;
  for (char32_t cp : {U' ', U'.', U'_', U'🤖', U'\u0301', U'\u200d'}) {
    EXPECT_FALSE(is_unicode_letter(cp)) << cp;
    EXPECT_FALSE(is_unicode_number(cp)) << cp;
  }
  for (char32_t cp : {U' ', U'\t', U'\n', U'\r', U'\v', U'\f', U'\u0085', U'\u00a0', U'\u2003', U'\u3000'})
    EXPECT_TRUE(is_unicode_whitespace(cp)) << cp;
  for (char32_t cp : {U'a', U'\u200b', U'\ufeff', U'\u001c'}) EXPECT_FALSE(is_unicode_whitespace(cp)) << cp;
}

TEST(ByteLevelBpe, PreTokenizationFollowsGpt2Pattern) {
  auto words = [](const std::string& text) {
    std::vector<std::string> out;
    for (auto [begin, end] : gpt2_pre_tokenize(text)) out.push_back(text.substr(begin, end - begin));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(words("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(words("I'm don't they're"), (V{"I", "'m", " don", "'t", " they", "'re"}));
  EXPECT_EQ(words("a   b"), (V{"a", "  ", " b"}));  // the last space goes with the word
  EXPECT_EQ(words("a \n b"), (V{"a", " \n", " b"}));
  EXPECT_EQ(words("x\ty"), (V{"x", "\t", "y"}));      // only U+0020 is the " ?" prefix
  EXPECT_EQ(words("end.  "), (V{"end", ".", "  "}));  // trailing whitespace stays one run
  EXPECT_EQ(words("3.14 km"), (V{"3", ".", "14", " km"}));
  EXPECT_EQ(words(" 's"), (V{" '", "s"}));
  EXPECT_EQ(words("a\u0085b"), (V{"a", "\u0085", "b"}));  // NEL is \s for Oniguruma
  EXPECT_EQ(words("caf\u00e9!?"), (V{"caf\u00e9", "!?"}));
  // Ill-formed UTF-8 is punctuation-like and keeps its bytes.
  EXPECT_EQ(words("ab\xff\xfe cd"), (V{"ab", "\xff\xfe", " cd"}));
  EXPECT_TRUE(words("").empty());
}

TEST(ByteLevelBpe, Utf8Lossy) {
  EXPECT_EQ(utf8_lossy("abc"), "abc");
  EXPECT_EQ(utf8_lossy("\xe2\x82"), "\xef\xbf\xbd");                // one maximal subpart
  EXPECT_EQ(utf8_lossy("\xe0\x80x"), "\xef\xbf\xbd\xef\xbf\xbdx");  // E0 80 is no prefix: two
  EXPECT_EQ(utf8_lossy("\xed\xa0\x80"), std::string(9, ' ').replace(0, 9, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
  EXPECT_EQ(utf8_lossy("\xf0\x9f\xa4\x96"), "\xf0\x9f\xa4\x96");
}

TEST(ByteLevelBpe, LoadsBartSpecialIds) {
  TinyFiles files;
  for (const auto& tokenizer : {ByteLevelBpeTokenizer::from_files(files.vocab, files.merges),
                                ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer)}) {
    EXPECT_EQ(tokenizer.bos_id(), 0);
    EXPECT_EQ(tokenizer.pad_id(), 1);
    EXPECT_EQ(tokenizer.eos_id(), 2);
    EXPECT_EQ(tokenizer.unk_id(), 3);
    EXPECT_EQ(tokenizer.sentence_separator_id(), -1);
    EXPECT_EQ(tokenizer.vocab_size(), static_cast<int64_t>(tiny_bpe().pieces.size()));
    EXPECT_EQ(tokenizer.piece_to_id("<mask>"), tiny_bpe().mask_id);
    EXPECT_EQ(tokenizer.id_to_piece(4 + ' '), "Ġ");
    EXPECT_EQ(tokenizer.piece_to_id("no-such-piece"), tokenizer.unk_id());
    EXPECT_THROW(tokenizer.id_to_piece(tokenizer.vocab_size()), std::out_of_range);
    EXPECT_THROW(tokenizer.id_to_piece(-1), std::out_of_range);
    EXPECT_THROW(tokenizer.decode(std::vector<int64_t>{5, tokenizer.vocab_size()}), std::out_of_range);
  }
  EXPECT_EQ(tiny_bpe().merges.size(), 300u);  // the corpus has more pairs: some words stay split
}

TEST(ByteLevelBpe, RoundTripsAndFormatsAgree) {
  TinyFiles files;
  const auto from_files = ByteLevelBpeTokenizer::from_files(files.vocab, files.merges);
  const auto from_json = ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer);
  const std::string bytes = from_json.serialized();
  ASSERT_TRUE(ByteLevelBpeTokenizer::is_serialized_form(bytes));
  const auto from_bytes = ByteLevelBpeTokenizer::from_bytes(bytes);
  EXPECT_EQ(from_bytes.serialized(), bytes);
  EXPECT_EQ(from_files.serialized(), bytes);
  EXPECT_EQ(tokenizer_checksum(from_bytes.serialized()), tokenizer_checksum(bytes));
  for (const auto& text : kTexts) {
    auto ids = from_json.encode(text);
    EXPECT_EQ(from_files.encode(text), ids) << text;
    EXPECT_EQ(from_bytes.encode(text), ids) << text;
    for (int64_t id : ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, from_json.vocab_size());
    }
    // lstrip of <mask> eats spaces; pad/bos/eos are dropped by decode.
    if (text.find("<mask>") == std::string::npos && !has_bos_eos_pad(text)) {
      EXPECT_EQ(from_json.decode(ids), text);
    }
  }
  for (const auto& text : random_texts(400)) {
    auto ids = from_json.encode(text);
    EXPECT_EQ(from_bytes.encode(text), ids) << text;
    if (text.find("<mask>") == std::string::npos && !has_bos_eos_pad(text)) {
      EXPECT_EQ(from_json.decode(ids), text);
    }
  }
  // Ill-formed UTF-8 goes through bytes unchanged.
  const std::string bad = "ok \xff\xc3 then";
  EXPECT_EQ(from_json.decode(from_json.encode(bad)), utf8_lossy(bad));
  auto bad_ids = from_json.encode(bad);
  for (int byte : {0xFF, 0xC3})
    EXPECT_EQ(std::count(bad_ids.begin(), bad_ids.end(), from_json.piece_to_id(byte_level_symbols()[byte])), 1);
}

TEST(ByteLevelBpe, MergesShortenCorpusWords) {
  TinyFiles files;
  const auto tokenizer = ByteLevelBpeTokenizer::from_files(files.vocab, files.merges);
  auto ids = tokenizer.encode("The quick brown fox");
  EXPECT_EQ(ids.size(), 4u);  // each a corpus word, merged to one piece
  EXPECT_EQ(tokenizer.id_to_piece(ids[1]), "Ġquick");
  EXPECT_EQ(tokenizer.decode(ids), "The quick brown fox");
  // Unseen words fall back to bytes, never to <unk>.
  auto unseen = tokenizer.encode(" zzxq");
  EXPECT_EQ(std::count(unseen.begin(), unseen.end(), tokenizer.unk_id()), 0);
  EXPECT_EQ(tokenizer.decode(unseen), " zzxq");
}

TEST(ByteLevelBpe, SpecialTokensAreMatchedWhole) {
  TinyFiles files;
  const auto tokenizer = ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer);
  const int64_t mask = tiny_bpe().mask_id;
  auto a = tokenizer.encode("a");
  auto b = tokenizer.encode("b");
  auto space_b = tokenizer.encode(" b");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(tokenizer.encode("a<mask>b"), (std::vector<int64_t>{a[0], mask, b[0]}));
  // <mask> takes the spaces before it (lstrip), not those after.
  std::vector<int64_t> expected = {a[0], mask};
  expected.insert(expected.end(), space_b.begin(), space_b.end());
  EXPECT_EQ(tokenizer.encode("a   <mask> b"), expected);
  EXPECT_EQ(tokenizer.encode("<s>a</s>"), (std::vector<int64_t>{0, a[0], 2}));
  EXPECT_EQ(tokenizer.decode(std::vector<int64_t>{0, a[0], mask, b[0], 2, 1, 1}), "a<mask>b");
  EXPECT_EQ(tokenizer.decode(std::vector<int64_t>{3}), "<unk>");
  // Not a special token: "<MASK>" is ordinary text.
  auto upper = tokenizer.encode("<MASK>");
  EXPECT_EQ(std::count(upper.begin(), upper.end(), mask), 0);
  EXPECT_EQ(tokenizer.decode(upper), "<MASK>");
}

TEST(ByteLevelBpe, SentencesAreJoinedWithNewlines) {
  TinyFiles files;
  const auto tokenizer = ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer);
  std::vector<std::string> sentences = {"The dog sleeps.", "The fox jumps!", "It's quick."};
  auto ids = tokenizer.encode_sentences(sentences);
  EXPECT_EQ(ids, tokenizer.encode("The dog sleeps.\nThe fox jumps!\nIt's quick."));
  EXPECT_EQ(tokenizer.decode_sentences(ids), sentences);
  EXPECT_TRUE(tokenizer.encode_sentences({}).empty());
}

TEST(ByteLevelBpe, DecodeRepairsCutCharacters) {
  TinyFiles files;
  const auto tokenizer = ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer);
  auto ids = tokenizer.encode("🤖");  // 4 bytes, maybe merged; cut after the first byte piece
  ASSERT_FALSE(ids.empty());
  const std::string first = tokenizer.decode(std::vector<int64_t>{tokenizer.piece_to_id(byte_level_symbols()[0xF0])});
  EXPECT_EQ(first, "\xef\xbf\xbd");
  EXPECT_EQ(tokenizer.decode(ids), "🤖");
}

TEST(ByteLevelBpe, EncodesConcurrently) {
  TinyFiles files;
  const auto tokenizer = ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer);
  std::vector<std::vector<int64_t>> expected;
  for (const auto& text : kTexts) expected.push_back(tokenizer.encode(text));
  const auto fresh = ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer);  // empty cache
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = 0; i < kTexts.size(); ++i) {
          size_t k = (i + t * 7 + round) % kTexts.size();
          if (fresh.encode(kTexts[k]) != expected[k]) ++mismatches;
        }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(ByteLevelBpe, AddPrefixSpaceAndIgnoreMerges) {
  TinyFiles files;
  const auto plain = ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer);
  const auto prefixed = ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer_prefix_space);
  EXPECT_EQ(prefixed.encode("quick fox"), plain.encode(" quick fox"));
  EXPECT_EQ(prefixed.encode(" quick fox"), plain.encode(" quick fox"));  // not a second space
  EXPECT_EQ(ByteLevelBpeTokenizer::from_bytes(prefixed.serialized()).encode("quick"), prefixed.encode("quick"));

  // A Sequence holding only the ByteLevel pre-tokenizer is the same tokenizer.
  json sequence = tokenizer_json(tiny_bpe(), false, false);
  sequence["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", json::array({sequence["pre_tokenizer"]})}};
  const std::string sequence_path = files.dir.write("sequence.json", sequence.dump());
  EXPECT_EQ(ByteLevelBpeTokenizer::from_tokenizer_json(sequence_path).serialized(), plain.serialized());

  // ignore_merges: a word that is a piece is that piece even where the merges would split it otherwise.
  json config = tokenizer_json(tiny_bpe(), false, false);
  config["model"]["vocab"]["Ġzzxq"] = tiny_bpe().pieces.size();
  const std::string path = files.dir.write("ignore_merges.json", config.dump());
  EXPECT_GT(ByteLevelBpeTokenizer::from_tokenizer_json(path).encode(" zzxq").size(), 1u);
  config["model"]["ignore_merges"] = true;
  files.dir.write("ignore_merges.json", config.dump());
  EXPECT_EQ(ByteLevelBpeTokenizer::from_tokenizer_json(path).encode(" zzxq"),
            (std::vector<int64_t>{static_cast<int64_t>(tiny_bpe().pieces.size())}));
}

TEST(ByteLevelBpe, Gpt2StyleVocabulary) {
  // GPT-2: no <s>/<pad>/<unk>; <|endoftext|> is bos, eos and unk.
  TinyBpe bpe = tiny_bpe();
  bpe.pieces.erase(bpe.pieces.begin(), bpe.pieces.begin() + 4);
  bpe.pieces.back() = "<|endoftext|>";
  TempDir dir;
  const auto tokenizer = ByteLevelBpeTokenizer::from_files(dir.write("vocab.json", vocab_json(bpe).dump()),
                                                           dir.write("merges.txt", merges_txt(bpe)));
  const int64_t end = static_cast<int64_t>(bpe.pieces.size()) - 1;
  EXPECT_EQ(tokenizer.bos_id(), end);
  EXPECT_EQ(tokenizer.eos_id(), end);
  EXPECT_EQ(tokenizer.unk_id(), end);
  EXPECT_EQ(tokenizer.pad_id(), -1);
  EXPECT_EQ(tokenizer.encode("a<|endoftext|>").back(), end);
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("the fox<|endoftext|>")), "the fox");
}

TEST(ByteLevelBpe, IdsWithoutPiecesDecodeToNothing) {
  // Vocabularies may skip ids (a model's embedding rows beyond the tokenizer's): they count in vocab_size().
  json vocab = vocab_json(tiny_bpe());
  const int64_t size = static_cast<int64_t>(tiny_bpe().pieces.size());
  vocab["<extra>"] = size + 5;
  TempDir dir;
  const auto tokenizer = ByteLevelBpeTokenizer::from_files(dir.write("vocab.json", vocab.dump()),
                                                           dir.write("merges.txt", merges_txt(tiny_bpe())));
  EXPECT_EQ(tokenizer.vocab_size(), size + 6);
  EXPECT_EQ(tokenizer.id_to_piece(size + 2), "");
  EXPECT_EQ(tokenizer.id_to_piece(size + 5), "<extra>");
  auto ids = tokenizer.encode("fox");
  ids.push_back(size + 1);
  EXPECT_EQ(tokenizer.decode(ids), "fox");
  const auto copy = ByteLevelBpeTokenizer::from_bytes(tokenizer.serialized());
  EXPECT_EQ(copy.vocab_size(), size + 6);
  EXPECT_EQ(copy.serialized(), tokenizer.serialized());
}

TEST(ByteLevelBpe, ErrorsNameTheFile) {
  TinyFiles files;
  TempDir dir;
  auto message = [](const std::function<void()>& load) -> std::string {
    try {
      load();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(no error)";
  };
  auto contains = [](const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; };
  const std::string missing = dir.file("missing.json");
  EXPECT_TRUE(contains(message([&] { ByteLevelBpeTokenizer::from_files(missing, files.merges); }), missing));
  EXPECT_TRUE(contains(message([&] { ByteLevelBpeTokenizer::from_tokenizer_json(missing); }), missing));

  const std::string broken = dir.write("broken.json", "{\"a\": 1,");
  std::string m = message([&] { ByteLevelBpeTokenizer::from_files(broken, files.merges); });
  EXPECT_TRUE(contains(m, broken) && contains(m, "invalid JSON")) << m;

  const std::string bad_id = dir.write("bad_id.json", "{\"a\": \"x\"}");
  m = message([&] { ByteLevelBpeTokenizer::from_files(bad_id, files.merges); });
  EXPECT_TRUE(contains(m, bad_id) && contains(m, "\"a\"")) << m;

  // A vocabulary without all 256 byte pieces.
  json small = {{"a", 0}, {"b", 1}, {"ab", 2}};
  const std::string small_vocab = dir.write("small.json", small.dump());
  m = message([&] { ByteLevelBpeTokenizer::from_files(small_vocab, dir.write("m.txt", "a b\n")); });
  EXPECT_TRUE(contains(m, small_vocab) && contains(m, "byte 0")) << m;

  // merges.txt: the line is named.
  const std::string first = tiny_bpe().merges[0].first + " " + tiny_bpe().merges[0].second + "\n";
  const std::string bad_merges = dir.write("bad_merges.txt", "#version: 0.2\n" + first + "not-a-merge\n");
  m = message([&] { ByteLevelBpeTokenizer::from_files(files.vocab, bad_merges); });
  EXPECT_TRUE(contains(m, bad_merges) && contains(m, "line 3")) << m;
  const std::string unknown_merge = dir.write("unknown_merge.txt", first + "zz qq\n");
  m = message([&] { ByteLevelBpeTokenizer::from_files(files.vocab, unknown_merge); });
  EXPECT_TRUE(contains(m, unknown_merge) && contains(m, "line 2") && contains(m, "\"zz\"")) << m;

  // tokenizer.json of another kind.
  auto variant = [&](const std::function<void(json&)>& edit) {
    json config = tokenizer_json(tiny_bpe(), false, false);
    edit(config);
    const std::string path = dir.write("variant.json", config.dump());
    return message([&] { ByteLevelBpeTokenizer::from_tokenizer_json(path); });
  };
  m = variant([](json& c) { c["model"]["type"] = "Unigram"; });
  EXPECT_TRUE(contains(m, "variant.json") && contains(m, "unsupported tokenizer model type Unigram")) << m;
  m = variant([](json& c) { c["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}}; });
  EXPECT_TRUE(contains(m, "unsupported pre-tokenizer Metaspace")) << m;
  m = variant([](json& c) { c["pre_tokenizer"]["use_regex"] = false; });
  EXPECT_TRUE(contains(m, "unsupported pre-tokenizer ByteLevel with use_regex false")) << m;
  m = variant([](json& c) { c["normalizer"] = {{"type", "NFC"}}; });
  EXPECT_TRUE(contains(m, "unsupported normalizer NFC")) << m;
  m = variant([](json& c) { c["decoder"] = {{"type", "WordPiece"}}; });
  EXPECT_TRUE(contains(m, "unsupported decoder WordPiece")) << m;
  m = variant([](json& c) { c["added_tokens"][4]["single_word"] = true; });
  EXPECT_TRUE(contains(m, "added_tokens[4]") && contains(m, "single_word")) << m;
  m = variant([](json& c) { c["model"].erase("merges"); });
  EXPECT_TRUE(contains(m, "model has no \"merges\"")) << m;
  m = variant([](json& c) { c["model"]["merges"][5] = 7; });
  EXPECT_TRUE(contains(m, "model.merges[5]")) << m;

  EXPECT_THROW(ByteLevelBpeTokenizer::from_bytes("not a tokenizer"), std::runtime_error);
  EXPECT_THROW(ByteLevelBpeTokenizer::from_bytes("{\"type\":\"byte_level_bpe\",\"version\":2}"), std::runtime_error);
}

// The reference: Hugging Face's JavaScript tokenizers on the same tokenizer.json files, same texts.
TEST(ByteLevelBpe, MatchesHuggingFaceTokenizersJs) {
  if (std::system("command -v node >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "node not found: no reference to compare with";
  const std::string source = PYRAMIDION_SOURCE_DIR, build = PYRAMIDION_BINARY_DIR;
  TinyFiles files;
  const std::string setup_log = files.dir.file("setup.log");
  if (std::system(
          ("bash '" + source + "/tests/data/bpe_reference/setup.sh' '" + build + "' 2>'" + setup_log + "'").c_str()) !=
      0) {
    std::ifstream log(setup_log);
    std::string reason((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    GTEST_SKIP() << "@huggingface/tokenizers could not be installed: " << reason;
  }
  const std::vector<std::string> configs = {files.tokenizer, files.tokenizer_prefix_space};
  std::vector<std::string> texts = kTexts;
  for (auto& text : random_texts(400)) texts.push_back(text);
  json cases = {{"tokenizers", configs}, {"texts", texts}, {"drop_ids", {0, 1, 2}}};
  const std::string cases_path = files.dir.write("cases.json", cases.dump());
  const std::string out_path = files.dir.file("out.json");
  const std::string command = "node '" + build + "/bpe_reference/encode.mjs' '" + cases_path + "' '" + out_path + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const json out = json::parse(std::ifstream(out_path));
  ASSERT_EQ(out["results"].size(), configs.size());
  for (size_t c = 0; c < configs.size(); ++c) {
    const auto tokenizer = ByteLevelBpeTokenizer::from_tokenizer_json(configs[c]);
    for (size_t i = 0; i < texts.size(); ++i) {
      const json& reference = out["results"][c][i];
      const std::string& text = texts[i];
      if (c == 0) {
        EXPECT_EQ(words_as_symbols(text), reference["words"].get<std::vector<std::string>>()) << text;
      }
      const auto ids = tokenizer.encode(text);
      EXPECT_EQ(ids, reference["ids"].get<std::vector<int64_t>>()) << configs[c] << ": " << text;
      EXPECT_EQ(tokenizer.decode(ids), reference["decoded"].get<std::string>()) << configs[c] << ": " << text;
    }
  }
}
