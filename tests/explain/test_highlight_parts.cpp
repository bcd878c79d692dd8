// The highlight view's three parts on their own (src/explain/): align (tokens -> the text's words and
// sentences), shares (summed upwards, sentences ranked by the last layer) and links (summary tokens' attention
// mass per source sentence, the strongest kept).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../data/temp_dir.h"
#include "../server/tiny_model.h"
#include "explain/pooling_shares.h"
#include "explain/summary_links.h"
#include "explain/word_alignment.h"
#include "pyramidion/data/any_tokenizer.h"
#include "tiny_bpe.h"

namespace pyramidion {
namespace {

const data::SentencePieceTokenizer& tiny_tokenizer() {
  static testing::TempDir dir;
  static const Summarizer summarizer = [] {
    const std::string path = dir.file("tiny.pt");
    testing::write_tiny_model(path, dir.path());
    return Summarizer::load(path);
  }();
  return summarizer.tokenizer().sentencepiece();
}

std::vector<int64_t> read_ids(const data::SentencePieceTokenizer& tok, const std::vector<std::string>& sentences) {
  std::vector<int64_t> ids = tok.encode_sentences(sentences);
  ids.push_back(tok.eos_id());
  return ids;
}

TEST(HighlightAlign, WordsFollowTheTextAndOwnTheirTokens) {
  const auto& tok = tiny_tokenizer();
  const std::vector<std::string> sentences = {"alpha bravo", "charlie delta echo"};
  std::vector<int64_t> ids;
  for (const auto& s : sentences)
    for (int64_t id : tok.encode(s)) ids.push_back(id);
  ids.push_back(tok.eos_id());
  const auto a = explain::align_words(tok, sentences, ids);
  ASSERT_TRUE(a.aligned);
  EXPECT_EQ(a.sentences, sentences);
  ASSERT_EQ(a.words.size(), 5u);
  const std::vector<int64_t> sentence_of = {0, 0, 1, 1, 1};
  for (size_t i = 0; i < a.words.size(); ++i) {
    EXPECT_EQ(a.words[i].sentence, sentence_of[i]);
    EXPECT_EQ(a.words[i].first_token, static_cast<int64_t>(i));  // the word model: one piece per word
    EXPECT_EQ(a.words[i].tokens, 1);
    EXPECT_EQ(a.token_word[i], static_cast<int64_t>(i));
  }
  EXPECT_EQ(a.token_word.back(), -1);  // EOS
  EXPECT_EQ(a.words[3].text, "delta");

  // Cut after three tokens: the words past the cut were never read.
  std::vector<int64_t> cut(ids.begin(), ids.begin() + 3);
  cut.push_back(tok.eos_id());
  const auto c = explain::align_words(tok, sentences, cut);
  ASSERT_TRUE(c.aligned);
  EXPECT_EQ(c.words[2].first_token, 2);
  EXPECT_EQ(c.words[3].first_token, -1);
  EXPECT_EQ(c.words[4].tokens, 0);
}

TEST(HighlightAlign, PiecesThatDoNotMatchTheTextRebuildTheWords) {
  const auto& tok = tiny_tokenizer();
  // The ids of other sentences than the text given: words come from the pieces, <sep> and "." end sentences.
  const auto ids = read_ids(tok, {"alpha bravo", "charlie"});
  const auto a = explain::align_words(tok, {"zulu yankee xray"}, ids);
  EXPECT_FALSE(a.aligned);
  ASSERT_EQ(a.words.size(), 3u);
  EXPECT_EQ(a.words[0].text, "alpha");
  EXPECT_EQ(a.words[2].text, "charlie");
  EXPECT_EQ(a.words[2].sentence, 1);
  EXPECT_EQ(a.sentences, (std::vector<std::string>{"alpha bravo", "charlie"}));
  EXPECT_EQ(a.token_word[2], -1);  // the separator belongs to no word
}

// Byte-level BPE pieces: "Ġ" starts a word, a run of spaces joins the word after it, "Ċ" ends a sentence.
TEST(HighlightAlign, ByteLevelBpePiecesGroupIntoTheTextsWords) {
  testing::TempDir dir;
  const data::Tokenizer bpe = testing::tiny_bpe_tokenizer(dir.path());
  using Role = data::Tokenizer::PieceRole;
  const std::string text = "alpha  bravo (echo)\nBravo.";
  const std::vector<int64_t> ids = bpe.encode(text);
  std::vector<std::string> pieces;
  for (int64_t id : ids) pieces.push_back(bpe.id_to_piece(id));
  const std::string g = "\xC4\xA0", newline = "\xC4\x8A";  // the byte pieces of " " and "\n"
  ASSERT_EQ(pieces, (std::vector<std::string>{"a", "lp", "ha", g, g + "bravo", g, "(", "echo", ")", newline, "B", "ra",
                                              "vo", "."}));
  const std::vector<Role> roles = {
      Role::continues_word, Role::continues_word, Role::continues_word, Role::space,          Role::word_start,
      Role::space,          Role::continues_word, Role::continues_word, Role::continues_word, Role::line_break,
      Role::continues_word, Role::continues_word, Role::continues_word, Role::continues_word};
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(bpe.piece_role(ids[i]), roles[i]) << pieces[i];
  EXPECT_EQ(bpe.piece_role(bpe.eos_id()), Role::special);
  const auto groups = explain::group_tokens(bpe, ids, ids.size());
  EXPECT_EQ(groups.groups, (std::vector<std::vector<int64_t>>{{0, 1, 2}, {3, 4}, {5, 6, 7, 8}, {10, 11, 12, 13}}));
  EXPECT_EQ(groups.sentence_breaks, std::vector<int64_t>{3});
  std::vector<std::string> words;
  for (const auto& group : groups.groups) words.push_back(explain::decode_group(bpe, ids, group));
  EXPECT_EQ(words, (std::vector<std::string>{"alpha", "bravo", "(echo)", "Bravo."}));
  // The same pieces under text they do not match: the words rebuilt from them, the line break ending a sentence.
  std::vector<int64_t> read = ids;
  read.push_back(bpe.eos_id());
  const auto a = explain::align_words(bpe, {"zulu"}, read);
  EXPECT_FALSE(a.aligned);
  ASSERT_EQ(a.words.size(), 4u);
  EXPECT_EQ(a.words[3].text, "Bravo.");
  EXPECT_EQ(a.words[3].sentence, 1);
  EXPECT_EQ(a.sentences, (std::vector<std::string>{"alpha bravo (echo)", "Bravo."}));
  EXPECT_EQ(a.token_word[3], 1);   // the space run belongs to the word after it
  EXPECT_EQ(a.token_word[9], -1);  // the line break to none, as a separator
  // Word by word: the first word without the space, the others with it.
  EXPECT_EQ(bpe.encode_word("bravo", true), bpe.encode("bravo"));
  EXPECT_EQ(bpe.encode_word("bravo", false), std::vector<int64_t>{ids[4]});
}

TEST(HighlightShares, WordsAndSentencesSumTheirTokensAndTheLastLayerRanks) {
  DocumentHighlight h;
  h.layers.resize(2);
  // Tokens: words 0, 1 (sentence 0), word 2 (sentence 1, two tokens), EOS.
  const std::vector<std::vector<double>> token_shares = {{0.1, 0.1}, {0.2, 0.1}, {0.1, 0.3}, {0.2, 0.3}, {0.4, 0.2}};
  const std::vector<int64_t> token_word = {0, 1, 2, 2, -1};
  for (size_t t = 0; t < token_shares.size(); ++t) {
    HighlightToken token;
    token.word = token_word[t];
    token.shares = token_shares[t];
    h.tokens.push_back(token);
  }
  for (int64_t sentence : {0, 0, 1}) {
    HighlightWord w;
    w.sentence = sentence;
    h.words.push_back(w);
  }
  h.sentences.resize(3);  // sentence 2: blank, no words
  explain::sum_shares(h);
  EXPECT_DOUBLE_EQ(h.words[2].shares[1], 0.6);
  EXPECT_DOUBLE_EQ(h.sentences[0].shares[0], 0.3);
  EXPECT_DOUBLE_EQ(h.sentences[1].shares[1], 0.6);
  EXPECT_EQ(h.sentences[0].first_word, 0);
  EXPECT_EQ(h.sentences[0].words, 2);
  EXPECT_EQ(h.sentences[1].first_word, 2);
  EXPECT_EQ(h.sentences[2].words, 0);
  EXPECT_EQ(h.sentences[2].first_word, 3);                // past the words
  EXPECT_EQ(h.ranking, (std::vector<int64_t>{1, 0, 2}));  // by the last layer: 0.6, 0.2, 0
  EXPECT_EQ(h.sentences[0].rank, 1);
}

TEST(HighlightShares, NothingPooledKeepsDocumentOrder) {
  DocumentHighlight h;
  h.tokens.resize(3);
  h.tokens[0].word = 0;
  h.tokens[1].word = 1;
  h.words.resize(2);
  h.words[1].sentence = 1;
  h.sentences.resize(2);
  explain::sum_shares(h);
  EXPECT_EQ(h.ranking, (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(h.sentences[1].shares.empty());
  const auto none = explain::token_shares(PoolingTrace{}, 3);
  EXPECT_TRUE(none.layers.empty());
  EXPECT_EQ(none.per_token.size(), 3u);
}

TEST(HighlightLinks, AttentionMassFollowsTheMemorysSourcePositionsToSentences) {
  // Memory of two slots over four source positions (sentences 0, 0, 1 and EOS = none); slot 1 holds padding.
  const torch::Tensor index = torch::tensor({0, 2, 1, -1}, torch::kLong).reshape({2, 2});
  const torch::Tensor weight = torch::tensor({0.5, 0.5, 0.75, 0.25}, torch::kDouble).reshape({2, 2});
  const torch::Tensor attention = torch::tensor({1.0, 0.0, 0.2, 0.8}, torch::kFloat).reshape({2, 2});
  const torch::Tensor mass = explain::sentence_attention_mass(attention, index, weight, {0, 0, 1, 2}, 2);
  ASSERT_EQ(mass.sizes(), (std::vector<int64_t>{2, 3}));
  const torch::Tensor want = torch::tensor({0.5, 0.5, 0.0, 0.1 + 0.6, 0.1, 0.2}, torch::kDouble).reshape({2, 3});
  EXPECT_TRUE(torch::allclose(mass, want, 1e-7, 1e-7)) << mass;
  EXPECT_NEAR(mass.sum().item<double>(), 2.0, 1e-7);  // every row keeps its whole mass
  EXPECT_THROW(explain::sentence_attention_mass(attention.narrow(1, 0, 1), index, weight, {0, 0, 1, 2}, 2),
               std::logic_error);
}

TEST(HighlightLinks, StrongestLinksAreSharesOfTheWholeMass) {
  const torch::Tensor mass = torch::tensor({0.1, 0.5, 0.0, 0.2}, torch::kDouble);  // 3 sentences + none
  const auto links = explain::strongest_links(mass, 3);
  ASSERT_EQ(links.size(), 2u);  // the third sentence has no mass
  EXPECT_EQ(links[0].sentence, 1);
  EXPECT_NEAR(links[0].share, 0.5 / 0.8, 1e-12);
  EXPECT_EQ(links[1].sentence, 0);
  EXPECT_EQ(explain::strongest_links(mass, 1).size(), 1u);
  EXPECT_TRUE(explain::strongest_links(mass, 0).empty());
  EXPECT_TRUE(explain::strongest_links(torch::tensor({1.0}, torch::kDouble), 3).empty());  // no sentence at all
}

}  // namespace
}  // namespace pyramidion
