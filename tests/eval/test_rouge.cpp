// ROUGE: rouge_score's per-pair scores on the golden pairs (stemmed and not), and hand-computed edge cases.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "pyramidion/eval/rouge.h"
#include "test_support.h"

namespace pyramidion {
namespace {

using nlohmann::json;

std::vector<json> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<json> rows;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

void expect_score(const RougeScore& score, double precision, double recall, double fmeasure) {
  EXPECT_DOUBLE_EQ(score.precision, precision);
  EXPECT_DOUBLE_EQ(score.recall, recall);
  EXPECT_DOUBLE_EQ(score.fmeasure, fmeasure);
}

void expect_all_zero(const RougeScores& scores) {
  for (const RougeScore* s : {&scores.rouge1, &scores.rouge2, &scores.rougeL, &scores.rougeLsum}) {
    EXPECT_EQ(s->precision, 0.0);
    EXPECT_EQ(s->recall, 0.0);
    EXPECT_EQ(s->fmeasure, 0.0);
  }
}

void check_golden(const char* scores_file, bool use_stemmer) {
  const auto pairs = read_jsonl(testing::shared_dir() / "golden/rouge/pairs.jsonl");
  const auto expected = read_jsonl(testing::shared_dir() / "golden/rouge" / scores_file);
  ASSERT_EQ(pairs.size(), 226u);
  ASSERT_EQ(expected.size(), pairs.size());
  const RougeScorer scorer(RougeOptions{use_stemmer});
  int compared = 0, mismatched = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    ASSERT_EQ(pairs[i]["id"], expected[i]["id"]);
    ASSERT_EQ(expected[i]["use_stemmer"].get<bool>(), use_stemmer);
    const RougeScores scores =
        scorer.score(pairs[i]["target"].get<std::string>(), pairs[i]["prediction"].get<std::string>());
    const std::pair<const char*, const RougeScore*> metrics[] = {{"rouge1", &scores.rouge1},
                                                                 {"rouge2", &scores.rouge2},
                                                                 {"rougeL", &scores.rougeL},
                                                                 {"rougeLsum", &scores.rougeLsum}};
    for (const auto& [name, score] : metrics) {
      const json& want = expected[i][name];
      const std::pair<const char*, double> values[] = {
          {"p", score->precision}, {"r", score->recall}, {"f", score->fmeasure}};
      for (const auto& [key, value] : values) {
        ++compared;
        const double target = want[key].get<double>();
        if (std::abs(value - target) > 1e-9 && ++mismatched <= 20)
          ADD_FAILURE() << pairs[i]["id"] << " " << name << "." << key << ": expected " << target << ", got " << value;
      }
    }
  }
  EXPECT_EQ(compared, 226 * 4 * 3);
  EXPECT_EQ(mismatched, 0);
}

TEST(Rouge, MatchesRougeScoreOnGoldenPairsStemmed) {
  PYRAMIDION_REQUIRE_SHARED("golden/rouge/scores_stemmed.jsonl");
  check_golden("scores_stemmed.jsonl", true);
}

TEST(Rouge, MatchesRougeScoreOnGoldenPairsUnstemmed) {
  PYRAMIDION_REQUIRE_SHARED("golden/rouge/scores_unstemmed.jsonl");
  check_golden("scores_unstemmed.jsonl", false);
}

TEST(RougeTokenizer, LowercasesAndSplitsOnEverythingOutsideAsciiAlphanumerics) {
  const RougeTokenizer plain(false);
  EXPECT_EQ(plain.tokenize("The quick-brown fox's 2nd_jump!"),
            (RougeTokens{"the", "quick", "brown", "fox", "s", "2nd", "jump"}));
  EXPECT_EQ(plain.tokenize("  \n\t "), RougeTokens{});
  EXPECT_EQ(plain.tokenize("?!... -- ;"), RougeTokens{});
  // Non-ASCII letters separate tokens ("Café" -> "caf"), as rouge_score's [^a-z0-9] does after lower().
  EXPECT_EQ(plain.tokenize("Café naïve Ωmega"), (RougeTokens{"caf", "na", "ve", "mega"}));
  // The two characters Python lower-cases to ASCII: KELVIN SIGN -> k, CAPITAL I WITH DOT -> i + U+0307.
  EXPECT_EQ(plain.tokenize("5\xE2\x84\xAA \xC4\xB0stanbul"), (RougeTokens{"5k", "i", "stanbul"}));
  // Invalid UTF-8 bytes separate, never crash.
  EXPECT_EQ(plain.tokenize("ab\xFF\xC4"
                           "cd\xE2\x84"),
            (RougeTokens{"ab", "cd"}));
}

TEST(RougeTokenizer, StemsOnlyTokensLongerThanThreeCharacters) {
  const RougeTokenizer stemming(true);
  // "dies" (4 chars) is stemmed to "die"; "ties" would be too, but "ran"/"was" (3 chars) are left alone.
  EXPECT_EQ(stemming.tokenize("Running dogs was ran dies"), (RougeTokens{"run", "dog", "was", "ran", "die"}));
  EXPECT_EQ(RougeTokenizer(false).tokenize("Running dogs"), (RougeTokens{"running", "dogs"}));
}

TEST(Rouge, IdenticalTextsScoreOne) {
  const RougeScorer scorer;
  const std::string text = "The cat sat on the mat.\nIt was happy there.";
  const RougeScores scores = scorer.score(text, text);
  for (const RougeScore* s : {&scores.rouge1, &scores.rouge2, &scores.rougeL, &scores.rougeLsum})
    expect_score(*s, 1.0, 1.0, 1.0);
}

TEST(Rouge, EmptyOrTokenlessInputsScoreZero) {
  const RougeScorer scorer;
  expect_all_zero(scorer.score("", "a prediction"));
  expect_all_zero(scorer.score("a target", ""));
  expect_all_zero(scorer.score("", ""));
  expect_all_zero(scorer.score("!!! ... ???", "the cat"));
  expect_all_zero(scorer.score("the cat", "\n\n"));
  expect_all_zero(scorer.score("日本語 ελληνικά", "日本語"));  // no ASCII letters or digits: no tokens
}

TEST(Rouge, NonAsciiLettersSplitWords) {
  // "Café" -> "caf", which no longer matches "cafe": 2 of 3 unigrams.
  const RougeScores scores = RougeScorer().score("Café au lait", "cafe au lait");
  expect_score(scores.rouge1, 2.0 / 3, 2.0 / 3, 2.0 / 3);
  expect_score(scores.rouge2, 0.5, 0.5, 0.5);
}

TEST(Rouge, HandComputedNgramAndLcsScores) {
  const RougeScorer scorer(RougeOptions{false});
  // target a b c d e, prediction a c e x: 3 shared unigrams, no shared bigram, LCS "a c e".
  const RougeScores scores = scorer.score("a b c d e", "a c e x");
  expect_score(scores.rouge1, 3.0 / 4, 3.0 / 5, 2 * 0.75 * 0.6 / (0.75 + 0.6));
  expect_score(scores.rouge2, 0.0, 0.0, 0.0);
  expect_score(scores.rougeL, 3.0 / 4, 3.0 / 5, 2 * 0.75 * 0.6 / (0.75 + 0.6));
  // Clipping: "the the the" against "the cat": one "the" matches.
  const RougeScores clipped = scorer.score("the cat", "the the the");
  expect_score(clipped.rouge1, 1.0 / 3, 1.0 / 2, 2 * (1.0 / 3) * 0.5 / (1.0 / 3 + 0.5));
  // Bigrams: target "a b c" has ab, bc; prediction "a b d" has ab, bd.
  expect_score(scorer.score("a b c", "a b d").rouge2, 0.5, 0.5, 0.5);
  // One token: no bigrams on either side -> precision and recall divide 0 by max(0, 1).
  expect_score(scorer.score("a", "a").rouge2, 0.0, 0.0, 0.0);
}

TEST(Rouge, HandComputedSummaryLevelLcs) {
  const RougeScorer scorer(RougeOptions{false});
  // ROUGE paper 3.2: r = w1..w5, c1 = w1 w2 w6 w7 w8, c2 = w1 w3 w8 w9 w5. LCS(r,c1) = w1 w2,
  // LCS(r,c2) = w1 w3 w5, union = w1 w2 w3 w5: 4 hits, |r| = 5, |c| = 10.
  const RougeScores scores = scorer.score("a b c d e", "a b f g h\na c h i e");
  expect_score(scores.rougeLsum, 4.0 / 10, 4.0 / 5, 2 * 0.4 * 0.8 / 1.2);
  // Joined into one sequence the LCS is "a b c e" too, but over 10 prediction tokens.
  expect_score(scores.rougeL, 4.0 / 10, 4.0 / 5, 2 * 0.4 * 0.8 / 1.2);

  // The per-token counters stop double counting: both target sentences "a" union-match the single
  // prediction "a", but the prediction has only one "a" to give. hits 1, |r| = 2, |c| = 1.
  expect_score(scorer.score("a\na", "a").rougeLsum, 1.0, 0.5, 2 * 1.0 * 0.5 / 1.5);
  // Sentences matter: target "a b" / "c d", prediction "c d a b": rougeL finds "c d" (or "a b") = 2, Lsum
  // matches each target sentence separately = 4.
  const RougeScores split = scorer.score("a b\nc d", "c d a b");
  expect_score(split.rougeL, 0.5, 0.5, 0.5);
  expect_score(split.rougeLsum, 1.0, 1.0, 1.0);
  // Empty lines are dropped and blank-only lines yield no tokens; neither changes the score.
  expect_score(scorer.score("a b\n\n  \nc d", "\nc d a b\n").rougeLsum, 1.0, 1.0, 1.0);
}

TEST(Rouge, SplitsSentencesOnNewlinesOnly) {
  EXPECT_EQ(split_rouge_sentences("a.\n\nb. c.\n"), (std::vector<std::string_view>{"a.", "b. c."}));
  EXPECT_EQ(split_rouge_sentences(""), std::vector<std::string_view>{});
  EXPECT_EQ(split_rouge_sentences(" \r\n"), (std::vector<std::string_view>{" \r"}));
}

TEST(Rouge, FmeasureIsZeroWhenPrecisionAndRecallAre) {
  EXPECT_EQ(rouge_fmeasure(0.0, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(rouge_fmeasure(0.5, 1.0), 2.0 / 3.0);
  EXPECT_THROW(rouge_n({"a"}, {"a"}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace pyramidion
