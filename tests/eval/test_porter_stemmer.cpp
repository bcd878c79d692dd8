// Porter stemmer: NLTK 3.8's stems for 29k corpus words, plus the NLTK_EXTENSIONS special cases.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "pyramidion/eval/porter_stemmer.h"
#include "test_support.h"

namespace pyramidion {
namespace {

TEST(PorterStemmer, ReproducesNltkStemsOfTheCorpusVocabulary) {
  PYRAMIDION_REQUIRE_SHARED("golden/rouge/porter_stems.tsv");
  std::ifstream in(testing::shared_dir() / "golden/rouge/porter_stems.tsv");
  ASSERT_TRUE(in);
  const PorterStemmer stemmer;
  std::string line;
  int checked = 0, wrong = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    const std::string word = line.substr(0, tab), expected = line.substr(tab + 1);
    const std::string actual = stemmer.stem(word);
    ++checked;
    if (actual != expected && ++wrong <= 20) ADD_FAILURE() << word << ": expected " << expected << ", got " << actual;
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(checked, 29277);
}

TEST(PorterStemmer, AppliesNltkExtensionsAndClassicRules) {
  const PorterStemmer stemmer;
  // Irregular forms bypass the rules.
  EXPECT_EQ(stemmer.stem("skies"), "sky");
  EXPECT_EQ(stemmer.stem("dying"), "die");
  EXPECT_EQ(stemmer.stem("innings"), "inning");
  EXPECT_EQ(stemmer.stem("proceed"), "proceed");
  // 4-letter -ies / -ied keep "ie"; longer ones become "i".
  EXPECT_EQ(stemmer.stem("dies"), "die");
  EXPECT_EQ(stemmer.stem("died"), "die");
  EXPECT_EQ(stemmer.stem("flies"), "fli");
  EXPECT_EQ(stemmer.stem("spied"), "spi");
  // Step 1: plurals, -ed/-ing with their repairs.
  EXPECT_EQ(stemmer.stem("caresses"), "caress");
  EXPECT_EQ(stemmer.stem("ponies"), "poni");
  EXPECT_EQ(stemmer.stem("cats"), "cat");
  EXPECT_EQ(stemmer.stem("feed"), "feed");
  EXPECT_EQ(stemmer.stem("agreed"), "agre");
  EXPECT_EQ(stemmer.stem("hopping"), "hop");
  EXPECT_EQ(stemmer.stem("falling"), "fall");
  EXPECT_EQ(stemmer.stem("filing"), "file");
  EXPECT_EQ(stemmer.stem("conflated"), "conflat");
  EXPECT_EQ(stemmer.stem("happy"), "happi");
  EXPECT_EQ(stemmer.stem("enjoy"), "enjoy");
  // Steps 2-5.
  EXPECT_EQ(stemmer.stem("relational"), "relat");
  EXPECT_EQ(stemmer.stem("generalization"), "gener");
  EXPECT_EQ(stemmer.stem("radically"), "radic");
  EXPECT_EQ(stemmer.stem("geology"), "geolog");
  EXPECT_EQ(stemmer.stem("hopefulness"), "hope");
  EXPECT_EQ(stemmer.stem("adoption"), "adopt");
  EXPECT_EQ(stemmer.stem("controlling"), "control");
  EXPECT_EQ(stemmer.stem("probate"), "probat");
  EXPECT_EQ(stemmer.stem("rate"), "rate");
  // Upper case is lowered; 1-2 letter words are returned as they are (lowered).
  EXPECT_EQ(stemmer.stem("Running"), "run");
  EXPECT_EQ(stemmer.stem("is"), "is");
  EXPECT_EQ(stemmer.stem("AS"), "as");
  EXPECT_EQ(stemmer.stem(""), "");
}

}  // namespace
}  // namespace pyramidion
