// Beam search against exhaustive search and greedy decoding on toy decoders whose scores are known.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "pyramidion/decoding/beam_search.h"

namespace pyramidion {
namespace {

constexpr SpecialTokenIds kSpecial{0, 1, 2, 3};

// A first-order Markov "decoder": log p(next | last) from a fixed table per document.
class MarkovDecoder : public IncrementalDecoder {
 public:
  MarkovDecoder(std::vector<torch::Tensor> tables, int64_t beam) : tables_(std::move(tables)) {
    for (size_t d = 0; d < tables_.size(); ++d)
      for (int64_t b = 0; b < beam; ++b) row_doc_.push_back(static_cast<int64_t>(d));
  }
  torch::Tensor step(const torch::Tensor& tokens) override {
    EXPECT_EQ(tokens.size(0), static_cast<int64_t>(row_doc_.size()));
    std::vector<torch::Tensor> out;
    for (int64_t r = 0; r < tokens.size(0); ++r) out.push_back(tables_[row_doc_[r]][tokens[r].item<int64_t>()]);
    ++steps;
    return torch::stack(out);
  }
  void reorder(const torch::Tensor& rows) override {
    std::vector<int64_t> next;
    for (int64_t i = 0; i < rows.size(0); ++i) next.push_back(row_doc_[rows[i].item<int64_t>()]);
    row_doc_ = next;
  }
  int steps = 0;

 private:
  std::vector<torch::Tensor> tables_;
  std::vector<int64_t> row_doc_;
};

torch::Tensor random_table(int64_t vocab, uint64_t seed, double sharpness = 2.0) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::log_softmax(torch::randn({vocab, vocab}, gen, torch::kDouble) * sharpness, 1);
}

struct Best {
  std::vector<int64_t> tokens;
  double score = -INFINITY;
};

// All sequences of at most max_len tokens then EOS (EOS forced at max_len), scored as beam search does. With
// `forced` >= 0 every sequence starts with that token at log-probability 0 (SpecialTokenIds::forced_first).
Best exhaustive(const torch::Tensor& table, int64_t max_len, int64_t min_len, double lenpen, int64_t forced = -1) {
  Best best;
  const int64_t vocab = table.size(0);
  std::vector<int64_t> seq;
  if (forced >= 0) seq.push_back(forced);
  std::function<void(int64_t, double)> walk = [&](int64_t last, double score) {
    const int64_t len = static_cast<int64_t>(seq.size());
    if (len >= min_len || len >= max_len) {
      double total = (score + table[last][kSpecial.eos].item<double>()) / std::pow(len + 1.0, lenpen);
      if (total > best.score) best = {seq, total};
    }
    if (len >= max_len) return;
    for (int64_t v = 0; v < vocab; ++v) {
      if (v == kSpecial.pad || v == kSpecial.eos) continue;
      seq.push_back(v);
      walk(v, score + table[last][v].item<double>());
      seq.pop_back();
    }
  };
  walk(forced >= 0 ? forced : kSpecial.bos, 0.0);
  return best;
}

TEST(BeamSearch, WideBeamFindsTheExhaustiveOptimum) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    for (double lenpen : {0.0, 1.0, 2.0}) {
      for (int64_t min_len : {0, 2}) {
        auto table = random_table(7, seed);
        BeamSearchOptions options;
        options.beam = 64;
        options.lenpen = lenpen;
        options.min_len = min_len;
        options.max_len_b = 3;
        MarkovDecoder decoder({table}, options.beam);
        auto result = BeamSearch(options, kSpecial).search(decoder, {10}, 0);
        auto want = exhaustive(table, 3, min_len, lenpen);
        ASSERT_EQ(result.size(), 1u);
        ASSERT_FALSE(result[0].empty());
        EXPECT_EQ(result[0][0].tokens, want.tokens) << "seed " << seed << " lenpen " << lenpen;
        EXPECT_NEAR(result[0][0].score, want.score, 1e-12);
      }
    }
  }
}

// A forced first token (BART's forced_bos_token_id): every hypothesis starts with it at log-probability 0, and the
// search proper starts after it: a wide beam still finds the exhaustive optimum among the sequences that start with
// it, greedy equals the beam machinery at beam 1, and diverse groups and sampling start with it too.
TEST(BeamSearch, ForcedFirstTokenStartsEveryHypothesis) {
  SpecialTokenIds special = kSpecial;
  special.forced_first = 4;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const auto table = random_table(7, 50 + seed);
    for (int64_t min_len : {0, 2}) {
      BeamSearchOptions options;
      options.beam = 64;
      options.nbest = 3;
      options.min_len = min_len;
      options.max_len_b = 4;
      MarkovDecoder decoder({table}, options.beam);
      const auto result = BeamSearch(options, special).search(decoder, {10}, 0);
      const Best want = exhaustive(table, 4, min_len, 1.0, special.forced_first);
      ASSERT_EQ(result[0].size(), 3u);
      EXPECT_EQ(result[0][0].tokens, want.tokens) << "seed " << seed;
      EXPECT_NEAR(result[0][0].score, want.score, 1e-12);
      for (const auto& h : result[0]) {
        EXPECT_EQ(h.tokens[0], 4);
        EXPECT_EQ(h.positional_scores[0], 0.0);
      }
    }
    BeamSearchOptions greedy;
    greedy.beam = 1;
    greedy.max_len_b = 6;
    MarkovDecoder by_argmax({table}, 1), by_beam({table}, 1);
    const auto argmax = BeamSearch(greedy, special).search(by_argmax, {10}, 0);
    greedy.greedy_argmax = false;
    const auto machinery = BeamSearch(greedy, special).search(by_beam, {10}, 0);
    ASSERT_EQ(argmax[0].size(), 1u);
    EXPECT_EQ(argmax[0][0].tokens, machinery[0][0].tokens);
    EXPECT_EQ(argmax[0][0].score, machinery[0][0].score);
    EXPECT_EQ(argmax[0][0].tokens[0], 4);
    for (const bool sampling : {false, true}) {
      BeamSearchOptions other;
      other.beam = 4;
      other.nbest = 4;
      other.max_len_b = 5;
      other.min_len = 2;
      other.sampling = sampling;
      if (!sampling) other.diverse_beam_groups = 2;
      MarkovDecoder decoder({table}, other.beam);
      const auto result = BeamSearch(other, special).search(decoder, {10}, 0);
      ASSERT_EQ(result[0].size(), 4u) << (sampling ? "sampling" : "diverse");
      for (const auto& h : result[0]) {
        EXPECT_EQ(h.tokens[0], 4);
        EXPECT_EQ(h.positional_scores[0], 0.0) << "no diversity penalty on the forced token";
      }
    }
  }
}

TEST(BeamSearch, BeamOneIsGreedy) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    auto table = random_table(12, 100 + seed);
    BeamSearchOptions options;
    options.beam = 1;
    options.max_len_b = 15;
    options.min_len = 3;
    MarkovDecoder decoder({table}, 1);
    auto result = BeamSearch(options, kSpecial).search(decoder, {10}, 0);
    std::vector<int64_t> greedy;
    int64_t last = kSpecial.bos;
    double score = 0;
    for (int64_t step = 0; step <= 15; ++step) {
      auto row = table[last].clone();
      row[kSpecial.pad] = -INFINITY;
      if (step < 3) row[kSpecial.eos] = -INFINITY;
      if (step == 15) {
        last = kSpecial.eos;
        score += table[greedy.empty() ? kSpecial.bos : greedy.back()][kSpecial.eos].item<double>();
        break;
      }
      last = row.argmax().item<int64_t>();
      score += row[last].item<double>();
      if (last == kSpecial.eos) break;
      greedy.push_back(last);
    }
    EXPECT_EQ(result[0][0].tokens, greedy);
    EXPECT_NEAR(result[0][0].score, score / (greedy.size() + 1.0), 1e-12);
  }
}

TEST(BeamSearch, WiderBeamNeverScoresWorseOnAGardenPath) {
  // Greedy takes 4 (p .6) and then only bad continuations; the beam keeps 5 (p .4) whose EOS is certain.
  auto table = torch::full({7, 7}, -30.0, torch::kDouble);
  table[kSpecial.bos][4] = std::log(0.6);
  table[kSpecial.bos][5] = std::log(0.4);
  for (int64_t v = 4; v < 7; ++v) table[4][v] = std::log(1.0 / 3);
  table[5][kSpecial.eos] = 0.0;
  table[6][kSpecial.eos] = 0.0;
  BeamSearchOptions options;
  options.max_len_b = 3;
  options.lenpen = 0.0;
  options.beam = 1;
  MarkovDecoder greedy_decoder({table}, 1);
  auto greedy = BeamSearch(options, kSpecial).search(greedy_decoder, {1}, 0);
  options.beam = 2;
  MarkovDecoder beam_decoder({table}, 2);
  auto beam = BeamSearch(options, kSpecial).search(beam_decoder, {1}, 0);
  EXPECT_EQ(beam[0][0].tokens, (std::vector<int64_t>{5}));
  EXPECT_GT(beam[0][0].score, greedy[0][0].score);
}

TEST(BeamSearch, NoRepeatNgramNeverRepeats) {
  // A table that loves repeating itself.
  auto table = random_table(30, 9, 0.5);
  table = torch::log_softmax(table + torch::eye(30, torch::kDouble) * 8, 1);
  for (int64_t n : {1, 2, 3}) {
    BeamSearchOptions options;
    options.beam = 4;
    options.nbest = 4;
    options.min_len = 12;
    options.max_len_b = 20;
    options.no_repeat_ngram_size = n;
    MarkovDecoder decoder({table}, 4);
    auto result = BeamSearch(options, kSpecial).search(decoder, {5}, 0);
    ASSERT_EQ(result[0].size(), 4u);
    for (const auto& h : result[0]) {
      ASSERT_GE(h.tokens.size(), 12u);
      std::set<std::vector<int64_t>> seen;
      for (size_t i = 0; i + n <= h.tokens.size(); ++i) {
        std::vector<int64_t> gram(h.tokens.begin() + i, h.tokens.begin() + i + n);
        EXPECT_TRUE(seen.insert(gram).second) << "repeated " << n << "-gram at " << i;
      }
    }
  }
}

TEST(BeamSearch, LengthLimitsAndNbestOrder) {
  // EOS is very likely everywhere, so min_len must hold it back; max_len = a * src + b per document.
  auto table = random_table(10, 3);
  table.index_put_({torch::indexing::Slice(), kSpecial.eos}, 5.0);
  table = torch::log_softmax(table, 1);
  BeamSearchOptions options;
  options.beam = 5;
  options.nbest = 5;
  options.min_len = 4;
  options.max_len_a = 0.5;
  options.max_len_b = 2;
  MarkovDecoder decoder({table, table}, 5);
  auto result = BeamSearch(options, kSpecial).search(decoder, {6, 20}, 0);  // max 5 and 12
  for (int d = 0; d < 2; ++d) {
    ASSERT_EQ(result[d].size(), 5u);
    for (size_t i = 0; i < result[d].size(); ++i) {
      EXPECT_GE(result[d][i].tokens.size(), 4u);
      EXPECT_LE(result[d][i].tokens.size(), d == 0 ? 5u : 12u);
      EXPECT_EQ(result[d][i].positional_scores.size(), result[d][i].tokens.size() + 1);
      if (i > 0) EXPECT_GE(result[d][i - 1].score, result[d][i].score);
    }
  }
  // max_positions caps the length too.
  options.min_len = 0;
  options.max_len_b = 50;
  options.max_len_a = 0;
  table.index_put_({torch::indexing::Slice(), kSpecial.eos}, -50.0);
  MarkovDecoder capped({table}, 5);
  auto short_result = BeamSearch(options, kSpecial).search(capped, {3}, 8);
  EXPECT_EQ(short_result[0][0].tokens.size(), 7u);
}

TEST(BeamSearch, BatchEqualsOneByOne) {
  std::vector<torch::Tensor> tables = {random_table(15, 41), random_table(15, 42), random_table(15, 43)};
  std::vector<int64_t> lengths = {4, 30, 12};
  BeamSearchOptions options;
  options.beam = 3;
  options.nbest = 2;
  options.max_len_a = 0.5;
  options.max_len_b = 3;
  options.no_repeat_ngram_size = 2;
  MarkovDecoder batched(tables, 3);
  auto all = BeamSearch(options, kSpecial).search(batched, lengths, 0);
  for (size_t d = 0; d < tables.size(); ++d) {
    MarkovDecoder single({tables[d]}, 3);
    auto one = BeamSearch(options, kSpecial).search(single, {lengths[d]}, 0);
    ASSERT_EQ(one[0].size(), all[d].size());
    for (size_t i = 0; i < one[0].size(); ++i) {
      EXPECT_EQ(one[0][i].tokens, all[d][i].tokens) << "doc " << d;
      EXPECT_EQ(one[0][i].score, all[d][i].score);
    }
  }
}

// The greedy path (beam 1: argmax per row, no top-k, no reorder while no document ends) against the general beam
// machinery at beam 1: the same hypotheses, to the bit, under every constraint. Documents end at different steps
// (max_len_a), so the greedy path compacts its rows too; float32 tables check the float -> float64 sums.
TEST(BeamSearch, GreedyArgmaxPathEqualsTheBeamMachineryAtBeamOne) {
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    for (int variant = 0; variant < 4; ++variant) {
      std::vector<torch::Tensor> tables;
      for (uint64_t d = 0; d < 4; ++d)
        tables.push_back(random_table(14, 300 + 10 * variant + d, 1.0 + variant).to(dtype));
      const std::vector<int64_t> lengths = {3, 25, 9, 14};
      BeamSearchOptions options;
      options.beam = 1;
      options.max_len_a = 0.5;
      options.max_len_b = 2;
      options.min_len = variant;
      options.no_repeat_ngram_size = variant % 2 == 1 ? 2 : 0;
      options.unk_penalty = variant >= 2 ? 0.7 : 0.0;
      options.lenpen = 0.6 + 0.3 * variant;
      MarkovDecoder fast_decoder(tables, 1), beam_decoder(tables, 1);
      auto fast = BeamSearch(options, kSpecial).search(fast_decoder, lengths, 12);
      BeamSearchOptions machinery = options;
      machinery.greedy_argmax = false;
      auto slow = BeamSearch(machinery, kSpecial).search(beam_decoder, lengths, 12);
      ASSERT_EQ(fast.size(), slow.size());
      EXPECT_EQ(fast_decoder.steps, beam_decoder.steps);
      for (size_t d = 0; d < fast.size(); ++d) {
        ASSERT_EQ(fast[d].size(), slow[d].size()) << "variant " << variant << " doc " << d;
        for (size_t i = 0; i < fast[d].size(); ++i) {
          EXPECT_EQ(fast[d][i].tokens, slow[d][i].tokens) << "variant " << variant << " doc " << d;
          EXPECT_EQ(fast[d][i].score, slow[d][i].score);
          EXPECT_EQ(fast[d][i].positional_scores, slow[d][i].positional_scores);
        }
      }
    }
  }
}

// Sampling draws the first token from the model's distribution: over 4000 documents with the same table, each
// token's share is within 4.5 standard errors of its probability (pad and EOS excluded: pad never, EOS not before
// min_len), with temperature applied as log_softmax(lprobs / T); top-k keeps only the k most likely tokens and
// top-p the smallest set reaching p, in the proportions of their probabilities.
TEST(Sampling, DrawsFromTheDistributionTopKAndTopP) {
  const int64_t vocab = 8, documents = 4000;
  const auto table = random_table(vocab, 7, 1.0);
  struct Case {
    double temperature;
    int64_t topk;
    double topp;
  };
  for (const Case c : {Case{1.0, -1, -1.0}, Case{0.5, -1, -1.0}, Case{1.0, 3, -1.0}, Case{1.0, -1, 0.6}}) {
    BeamSearchOptions options;
    options.beam = 1;
    options.sampling = true;
    options.temperature = c.temperature;
    options.sampling_topk = c.topk;
    options.sampling_topp = c.topp;
    options.max_len_b = 1;  // one token, then EOS
    options.seed = 11;
    MarkovDecoder decoder(std::vector<torch::Tensor>(documents, table), 1);
    auto results = BeamSearch(options, kSpecial).search(decoder, std::vector<int64_t>(documents, 5), 0);
    // The expected distribution: pad and EOS removed, the rest as the options say (renormalized for the draw).
    auto lprobs = torch::log_softmax(table[kSpecial.bos] / c.temperature, 0);
    auto p = lprobs.exp();
    p[kSpecial.pad] = 0;
    p[kSpecial.eos] = 0;
    std::vector<int64_t> order(vocab);
    for (int64_t t = 0; t < vocab; ++t) order[t] = t;
    std::sort(order.begin(), order.end(),
              [&](int64_t x, int64_t y) { return p[x].item<double>() > p[y].item<double>(); });
    auto kept = torch::zeros({vocab}, torch::kDouble);
    double mass = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      const bool keep = c.topk > 0 ? static_cast<int64_t>(i) < c.topk : c.topp > 0 ? mass < c.topp : true;
      if (keep && p[order[i]].item<double>() > 0) kept[order[i]] = p[order[i]];
      mass += p[order[i]].item<double>();
    }
    const auto expected = kept / kept.sum();
    std::vector<int64_t> counts(vocab, 0);
    for (const auto& r : results) {
      ASSERT_EQ(r.size(), 1u);
      ASSERT_EQ(r[0].tokens.size(), 1u);
      const int64_t token = r[0].tokens[0];
      ++counts[token];
      // The token's score is its log-probability under the temperature, not renormalized over the kept set.
      EXPECT_NEAR(r[0].positional_scores[0], lprobs[token].item<double>(), 1e-12);
    }
    for (int64_t t = 0; t < vocab; ++t) {
      const double q = expected[t].item<double>(), share = static_cast<double>(counts[t]) / documents;
      if (q == 0) {
        EXPECT_EQ(counts[t], 0) << "token " << t << " is outside the sampling set";
      } else {
        EXPECT_NEAR(share, q, 4.5 * std::sqrt(q * (1 - q) / documents) + 1e-9)
            << "token " << t << " T " << c.temperature << " topk " << c.topk << " topp " << c.topp;
      }
    }
  }
}

// A document's sample depends only on (seed, its id): the same in a batch as alone, the same again, different
// with another seed; a top-p so small that only the most likely token is left is greedy decoding.
TEST(Sampling, ReproduciblePerSeedAndDocumentIndependentOfTheBatch) {
  std::vector<torch::Tensor> tables = {random_table(15, 61, 0.7), random_table(15, 62, 0.7), random_table(15, 63, 0.7)};
  const std::vector<int64_t> lengths = {10, 30, 20};
  BeamSearchOptions options;
  options.beam = 3;
  options.nbest = 3;
  options.sampling = true;
  options.max_len_b = 12;
  options.no_repeat_ngram_size = 2;
  options.seed = 5;
  MarkovDecoder batched(tables, 3);
  const auto all = BeamSearch(options, kSpecial).search(batched, lengths, 0);
  MarkovDecoder again_decoder(tables, 3);
  const auto again = BeamSearch(options, kSpecial).search(again_decoder, lengths, 0);
  for (size_t d = 0; d < tables.size(); ++d) {
    BeamSearchOptions alone = options;
    alone.document_ids = {static_cast<int64_t>(d)};
    MarkovDecoder single({tables[d]}, 3);
    const auto one = BeamSearch(alone, kSpecial).search(single, {lengths[d]}, 0);
    ASSERT_EQ(one[0].size(), all[d].size());
    for (size_t i = 0; i < all[d].size(); ++i) {
      EXPECT_EQ(one[0][i].tokens, all[d][i].tokens) << "doc " << d;
      EXPECT_EQ(one[0][i].score, all[d][i].score);
      EXPECT_EQ(again[d][i].tokens, all[d][i].tokens);
    }
  }
  int differing = 0;
  for (int64_t seed = 6; seed < 10; ++seed) {
    BeamSearchOptions other = options;
    other.seed = seed;
    MarkovDecoder decoder(tables, 3);
    const auto sampled = BeamSearch(other, kSpecial).search(decoder, lengths, 0);
    for (size_t d = 0; d < tables.size(); ++d) differing += sampled[d][0].tokens != all[d][0].tokens;
  }
  EXPECT_GE(differing, 8) << "of 12 (seed, document) pairs, the best sample should mostly differ from seed 5's";

  BeamSearchOptions nucleus;
  nucleus.beam = 1;
  nucleus.sampling = true;
  nucleus.sampling_topp = 1e-9;
  nucleus.max_len_b = 12;
  BeamSearchOptions greedy = nucleus;
  greedy.sampling = false;
  greedy.sampling_topp = -1;
  MarkovDecoder d1(tables, 1), d2(tables, 1);
  const auto sampled = BeamSearch(nucleus, kSpecial).search(d1, lengths, 0);
  const auto best = BeamSearch(greedy, kSpecial).search(d2, lengths, 0);
  for (size_t d = 0; d < tables.size(); ++d) {
    EXPECT_EQ(sampled[d][0].tokens, best[d][0].tokens);
    EXPECT_EQ(sampled[d][0].score, best[d][0].score);
  }
}

// Diverse beam search (fairseq's DiverseBeamSearch): with one row per group and strength 0 every group runs the
// same greedy search, so all hypotheses are one sequence; with a strong penalty the groups choose different
// first tokens; one group is plain beam search.
TEST(DiverseBeamSearch, GroupsDifferOnlyThroughThePenalty) {
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const auto table = random_table(12, 500 + seed);
    BeamSearchOptions options;
    options.beam = 4;
    options.nbest = 4;
    options.max_len_b = 10;
    options.diverse_beam_groups = 4;
    options.diverse_beam_strength = 0.0;
    MarkovDecoder same_decoder({table}, 4);
    const auto same = BeamSearch(options, kSpecial).search(same_decoder, {10}, 0)[0];
    ASSERT_EQ(same.size(), 4u);
    for (const auto& h : same) EXPECT_EQ(h.tokens, same[0].tokens) << "seed " << seed;

    // Strong penalty, one token each (later steps may regroup rows after an EOS, as fairseq's do).
    options.diverse_beam_strength = 1000.0;
    options.max_len_b = 1;
    MarkovDecoder diverse_decoder({table}, 4);
    const auto diverse = BeamSearch(options, kSpecial).search(diverse_decoder, {10}, 0)[0];
    ASSERT_EQ(diverse.size(), 4u);
    std::set<int64_t> first_tokens;
    for (const auto& h : diverse) {
      ASSERT_FALSE(h.tokens.empty());
      first_tokens.insert(h.tokens[0]);
    }
    EXPECT_EQ(first_tokens.size(), 4u) << "seed " << seed;

    options.max_len_b = 10;
    BeamSearchOptions one_group = options;
    one_group.diverse_beam_groups = 1;
    BeamSearchOptions plain = options;
    plain.diverse_beam_groups = -1;
    MarkovDecoder d1({table}, 4), d2({table}, 4);
    const auto a = BeamSearch(one_group, kSpecial).search(d1, {10}, 0)[0];
    const auto b = BeamSearch(plain, kSpecial).search(d2, {10}, 0)[0];
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens);
  }
}

// Diverse beam search, step by step against fairseq's formula on a decoder whose next-token distribution does not
// depend on the past: at step 0 group 0 takes the best tokens and group 1 the best after the penalty; hand-checked
// scores of the two groups' first candidates.
TEST(DiverseBeamSearch, SecondGroupPaysForTheFirstGroupsTokens) {
  // log p over 6 tokens (pad 0, unk 1, bos 2, eos 3, a 4, b 5): a is best, b second; every row the same.
  auto row = torch::log_softmax(torch::tensor({0.0, -5.0, -5.0, -5.0, 2.0, 1.5}, torch::kDouble), 0);
  auto table = row.unsqueeze(0).repeat({6, 1});
  BeamSearchOptions options;
  options.beam = 2;
  options.nbest = 2;
  options.min_len = 1;
  options.max_len_b = 1;  // one token, then EOS
  options.diverse_beam_groups = 2;
  options.diverse_beam_strength = 0.25;
  MarkovDecoder decoder({table}, 2);
  const auto result = BeamSearch(options, kSpecial).search(decoder, {5}, 0)[0];
  ASSERT_EQ(result.size(), 2u);
  // Group 0 takes a (and b as its second candidate); group 1's a and b are each penalized by 0.25 (both were
  // candidates of group 0), so its best is a - 0.25 > b - 0.25: rows [a], [a]. At the last step both can only end,
  // and group 1's EOS pays again (group 0 chose EOS too): the penalty is part of the score, as in fairseq.
  const double a = row[4].item<double>(), eos = row[3].item<double>();
  EXPECT_EQ(result[0].tokens, std::vector<int64_t>({4}));
  EXPECT_EQ(result[1].tokens, std::vector<int64_t>({4}));
  EXPECT_NEAR(result[0].score, (a + eos) / 2.0, 1e-12);
  EXPECT_NEAR(result[1].score, (a - 0.25 + eos - 0.25) / 2.0, 1e-12);
}

TEST(BeamSearch, RejectsBadOptions) {
  BeamSearchOptions options;
  options.beam = 0;
  EXPECT_THROW(BeamSearch(options, kSpecial), std::invalid_argument);
  options.beam = 2;
  options.nbest = 3;
  EXPECT_THROW(BeamSearch(options, kSpecial), std::invalid_argument);
}

}  // namespace
}  // namespace pyramidion
