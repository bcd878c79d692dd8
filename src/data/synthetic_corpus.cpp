#include "pyramidion/data/synthetic_corpus.h"

#include <algorithm>
#include <random>
#include <stdexcept>

namespace pyramidion::data {
namespace {

// std::mt19937_64 is specified exactly by the standard; the distributions are not, so draws use our own
// mapping to stay identical across standard libraries.
class Draw {
 public:
  explicit Draw(uint64_t seed) : engine_(seed) {}
  int64_t between(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(engine_() % static_cast<uint64_t>(hi - lo + 1));
  }
  double uniform() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  std::mt19937_64 engine_;
};

// Pronounceable, distinct words; facts use letters filler never uses, so the two sets are disjoint.
std::vector<std::string> make_words(int64_t count, const std::vector<std::string>& onsets,
                                    const std::vector<std::string>& vowels, const std::string& tail) {
  std::vector<std::string> words;
  for (size_t a = 0; a < onsets.size() && static_cast<int64_t>(words.size()) < count; ++a)
    for (size_t b = 0; b < vowels.size() && static_cast<int64_t>(words.size()) < count; ++b)
      for (size_t c = 0; c < onsets.size() && static_cast<int64_t>(words.size()) < count; ++c)
        words.push_back(onsets[a] + vowels[b] + onsets[c] + vowels[(a + c) % vowels.size()] + tail);
  if (static_cast<int64_t>(words.size()) < count) throw std::invalid_argument("synthetic corpus: vocabulary too large");
  return words;
}

uint64_t split_stream(const std::string& split) {
  if (split == "train") return 0x9E3779B97F4A7C15ull;
  if (split == "valid") return 0xC2B2AE3D27D4EB4Full;
  if (split == "test") return 0x165667B19E3779F9ull;
  throw std::invalid_argument("synthetic corpus: unknown split '" + split + "' (train, valid, test)");
}

}  // namespace

const char* token_class_name(TokenClass c) {
  switch (c) {
    case TokenClass::kSalient:
      return "salient";
    case TokenClass::kDistractor:
      return "distractor";
    default:
      return "filler";
  }
}

SyntheticCorpus::SyntheticCorpus(SyntheticCorpusOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  if (o.min_words < 1 || o.max_words < o.min_words || o.min_salient < 1 || o.max_salient < o.min_salient ||
      o.min_facts < 1 || o.max_facts < o.min_facts || o.min_distractors < 0 || o.max_distractors < o.min_distractors ||
      o.min_filler_words < 1 || o.max_filler_words < o.min_filler_words || o.decoy_cues.empty())
    throw std::invalid_argument("synthetic corpus: inconsistent options (min > max, or zero counts)");
  filler_ = make_words(o.filler_vocabulary, {"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v"},
                       {"a", "e", "i", "o", "u"}, "");
  facts_ = make_words(o.fact_vocabulary, {"x", "z", "q", "j", "w", "h"}, {"a", "e", "i", "o", "u", "y"}, "");
}

std::vector<std::string> SyntheticCorpus::vocabulary() const {
  std::vector<std::string> words = filler_;
  words.insert(words.end(), facts_.begin(), facts_.end());
  words.push_back(options_.cue);
  words.insert(words.end(), options_.decoy_cues.begin(), options_.decoy_cues.end());
  words.push_back(".");
  return words;
}

SyntheticDocument SyntheticCorpus::document(const std::string& split, int64_t index) const {
  const auto& o = options_;
  Draw draw(o.seed ^ split_stream(split) ^ (static_cast<uint64_t>(index) * 0xD6E8FEB86659FD93ull));
  SyntheticDocument doc;
  doc.id = split + "-" + std::to_string(index);
  const int64_t length = draw.between(o.min_words, o.max_words);

  // Passages: salient ones keep their order in the summary; they and the decoys go to random sentence slots.
  struct Passage {
    TokenClass cls;
    std::vector<std::string> words;
  };
  std::vector<Passage> passages;
  const int64_t salient = draw.between(o.min_salient, o.max_salient);
  const int64_t decoys = draw.between(o.min_distractors, o.max_distractors);
  int64_t passage_words = 0;
  for (int64_t p = 0; p < salient + decoys; ++p) {
    Passage passage{p < salient ? TokenClass::kSalient : TokenClass::kDistractor, {}};
    passage.words.push_back(p < salient ? o.cue : o.decoy_cues[draw.between(0, o.decoy_cues.size() - 1)]);
    const int64_t facts = draw.between(o.min_facts, o.max_facts);
    for (int64_t f = 0; f < facts; ++f) passage.words.push_back(facts_[draw.between(0, facts_.size() - 1)]);
    passage.words.push_back(".");
    passage_words += static_cast<int64_t>(passage.words.size());
    passages.push_back(std::move(passage));
  }
  // Filler sentences fill the rest of the length; the passages are spread among them.
  std::vector<std::vector<std::string>> filler_sentences;
  int64_t filler_budget = std::max<int64_t>(0, length - passage_words);
  while (filler_budget > 0) {
    int64_t words = std::min(filler_budget - 1, draw.between(o.min_filler_words, o.max_filler_words));
    std::vector<std::string> sentence;
    for (int64_t w = 0; w < std::max<int64_t>(words, 1); ++w) {
      const bool fact = draw.uniform() < o.fact_rate_in_filler;
      sentence.push_back(fact ? facts_[draw.between(0, facts_.size() - 1)]
                              : filler_[draw.between(0, filler_.size() - 1)]);
    }
    sentence.push_back(".");
    filler_budget -= static_cast<int64_t>(sentence.size());
    filler_sentences.push_back(std::move(sentence));
  }
  // Slots: passage p goes before filler sentence slot[p]; salient passages in increasing slot order.
  const int64_t slots = static_cast<int64_t>(filler_sentences.size()) + 1;
  std::vector<int64_t> slot(passages.size());
  for (auto& s : slot) s = draw.between(0, slots - 1);
  std::sort(slot.begin(), slot.begin() + salient);
  // Decoys are interleaved independently; order within a slot: by passage index.
  std::vector<size_t> order(passages.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return slot[a] < slot[b]; });

  auto emit = [&doc](const std::vector<std::string>& words, TokenClass cls) {
    std::string sentence;
    for (const auto& w : words) {
      doc.words.push_back(w);
      doc.classes.push_back(cls);
      sentence += (sentence.empty() ? "" : " ") + w;
    }
    doc.sentences.push_back(sentence);
  };
  size_t next = 0;
  for (int64_t s = 0; s < slots; ++s) {
    while (next < order.size() && slot[order[next]] == s) {
      const auto& p = passages[order[next]];
      emit(p.words, p.cls);
      ++next;
    }
    if (s < static_cast<int64_t>(filler_sentences.size())) emit(filler_sentences[s], TokenClass::kFiller);
  }
  // Summary: the salient passages' facts, in document order (their slots were sorted, and stable_sort
  // keeps passage order within a slot).
  for (size_t i : order) {
    if (passages[i].cls != TokenClass::kSalient) continue;
    std::string sentence;
    for (size_t w = 1; w < passages[i].words.size(); ++w)
      sentence += (sentence.empty() ? "" : " ") + passages[i].words[w];
    doc.summary.push_back(sentence);
  }
  return doc;
}

std::vector<std::string> lead_sentences(const SyntheticDocument& document, int64_t n) {
  const int64_t count = std::min<int64_t>(n, static_cast<int64_t>(document.sentences.size()));
  return {document.sentences.begin(), document.sentences.begin() + count};
}

}  // namespace pyramidion::data
