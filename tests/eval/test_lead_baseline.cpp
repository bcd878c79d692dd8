#include <gtest/gtest.h>

#include "pyramidion/eval/lead_baseline.h"

namespace pyramidion {
namespace {

const std::vector<std::string> kDocument = {"One two three.", "Four five.", "Six seven eight nine.", "Ten."};

TEST(LeadBaseline, LeadNJoinsTheFirstSentences) {
  EXPECT_EQ(lead_summary(kDocument, 2), "One two three.\nFour five.");
  EXPECT_EQ(lead_summary(kDocument, 10), "One two three.\nFour five.\nSix seven eight nine.\nTen.");
  EXPECT_EQ(lead_summary(kDocument, 0), "");
}

TEST(LeadBaseline, OracleLengthTakesTheFewestSentencesReachingTheReferenceLength) {
  EXPECT_EQ(oracle_length_lead_count(kDocument, "a"), 1u);                                // at least one sentence
  EXPECT_EQ(oracle_length_lead_count(kDocument, "a b c"), 1u);                            // 3 words: the first has 3
  EXPECT_EQ(oracle_length_lead_count(kDocument, "a b c d"), 2u);                          // 4 words: 3 + 2
  EXPECT_EQ(oracle_length_lead_count(kDocument, "a b c d e f"), 3u);                      // 6 words: 3 + 2 + 4
  EXPECT_EQ(oracle_length_lead_count(kDocument, std::string(400, 'x') + " y z"), 1u);     // one long token = one word
  EXPECT_EQ(oracle_length_lead_count(kDocument, "w w w w w w w w w w w w w w w w"), 4u);  // longer than the document
  EXPECT_EQ(oracle_length_lead_count({}, "a b"), 0u);
  // Words as ROUGE counts them: punctuation separates, it is not a word.
  EXPECT_EQ(oracle_length_lead_count(kDocument, "a, b; c -- d"), 2u);
}

}  // namespace
}  // namespace pyramidion
