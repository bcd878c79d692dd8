#include "pyramidion/decoding/beam_search.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

namespace pyramidion {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// One live hypothesis (a decoder row).
struct Row {
  std::vector<int64_t> tokens;
  std::vector<double> positional_scores;
  double score = 0;  // sum of log-probabilities
};

struct Document {
  int64_t max_len = 0;
  std::vector<Row> rows;  // beam rows while active
  std::vector<Hypothesis> finished;
  bool done = false;
};

// Tokens that would complete an n-gram already present in `tokens`.
std::vector<int64_t> banned_by_ngrams(const std::vector<int64_t>& tokens, int64_t n) {
  std::vector<int64_t> banned;
  const int64_t len = static_cast<int64_t>(tokens.size());
  if (n <= 0 || len + 1 < n) return banned;
  if (n == 1) return tokens;
  const int64_t prefix_start = len - (n - 1);
  for (int64_t i = 0; i + n - 1 < len; ++i) {
    if (std::equal(tokens.begin() + i, tokens.begin() + i + n - 1, tokens.begin() + prefix_start))
      banned.push_back(tokens[i + n - 1]);
  }
  return banned;
}

// a * source length + b tokens, capped at max_positions - 1 (when > 0) and at 0 from below. Computed in double and
// compared before any conversion: a huge a or b caps the length instead of overflowing int64 into a negative one
// (which ended every summary at once).
int64_t summary_length_limit(const BeamSearchOptions& options, int64_t source_length, int64_t max_positions) {
  const double wanted = options.max_len_a * static_cast<double>(source_length) + static_cast<double>(options.max_len_b);
  const int64_t cap = max_positions > 0 ? max_positions - 1 : std::numeric_limits<int64_t>::max();
  if (!(wanted < static_cast<double>(cap))) return std::isnan(wanted) ? 0 : cap;  // +inf and NaN included
  return std::max<int64_t>(static_cast<int64_t>(wanted), 0);
}

// One random stream per (seed, document): splitmix64 of both, so neighbouring seeds and documents are unrelated.
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::mt19937_64 sampling_stream(int64_t seed, int64_t document) {
  return std::mt19937_64(splitmix64(splitmix64(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(document)));
}

int64_t draw_token(const double* lprobs, int64_t vocab, int64_t topk, double topp, std::mt19937_64& stream,
                   std::vector<int64_t>& order) {
  // The tokens that can be drawn: all finite ones in id order, or the top-k / top-p set, most likely first.
  order.clear();
  double best = kNegInf;
  for (int64_t t = 0; t < vocab; ++t)
    if (std::isfinite(lprobs[t])) {
      order.push_back(t);
      best = std::max(best, lprobs[t]);
    }
  if (order.empty()) return -1;
  const auto more_likely = [lprobs](int64_t x, int64_t y) {
    return lprobs[x] > lprobs[y] || (lprobs[x] == lprobs[y] && x < y);
  };
  if (topk > 0 && topk < static_cast<int64_t>(order.size())) {
    std::partial_sort(order.begin(), order.begin() + topk, order.end(), more_likely);
    order.resize(static_cast<size_t>(topk));
  } else if (topp > 0) {
    // fairseq's _sample_topp: keep the most likely tokens while the mass before them is below p (the token that
    // crosses p is kept).
    std::sort(order.begin(), order.end(), more_likely);
    double mass = 0;
    size_t keep = 0;
    while (keep < order.size() && mass < topp) mass += std::exp(lprobs[order[keep++]]);
    order.resize(std::max<size_t>(keep, 1));
  }
  double total = 0;
  for (int64_t t : order) total += std::exp(lprobs[t] - best);
  // 53 random bits as a double in [0, 1): the same on every platform (std::uniform_real_distribution is not).
  const double u = static_cast<double>(stream() >> 11) * 0x1.0p-53 * total;
  double cumulative = 0;
  for (int64_t t : order) {
    cumulative += std::exp(lprobs[t] - best);
    if (u < cumulative) return t;
  }
  return order.back();  // rounding left u at the very end
}

// One continuation of a row: its total score (the row's plus the token's), the row (beam index) and the token.
struct Candidate {
  double total;
  int64_t beam;
  int64_t token;
};

std::vector<std::vector<Candidate>> best_candidates(const BeamSearchOptions& options, const torch::Tensor& lprobs,
                                                    const std::vector<double>& row_scores, int64_t documents) {
  // 2 * beam best continuations per document over (beam x vocab).
  const int64_t beam = options.beam, vocab = lprobs.size(1);
  const auto scores = lprobs + torch::tensor(row_scores, torch::kDouble).to(lprobs.device()).unsqueeze(1);
  const int64_t count = std::min<int64_t>(2 * beam, beam * vocab);
  auto [top_scores_device, top_index_device] =
      scores.view({documents, beam * vocab}).topk(count, 1, /*largest=*/true, /*sorted=*/true);
  const torch::Tensor top_scores = top_scores_device.to(torch::kCPU).contiguous();
  const torch::Tensor top_index = top_index_device.to(torch::kCPU).contiguous();
  const double* ts = top_scores.data_ptr<double>();
  const int64_t* ti = top_index.data_ptr<int64_t>();
  std::vector<std::vector<Candidate>> out(static_cast<size_t>(documents));
  for (int64_t a = 0; a < documents; ++a)
    for (int64_t j = 0; j < count; ++j) {
      const int64_t flat = ti[a * count + j];
      out[static_cast<size_t>(a)].push_back({ts[a * count + j], flat / vocab, flat % vocab});
    }
  return out;
}

std::vector<std::vector<Candidate>> diverse_candidates(const BeamSearchOptions& options, const torch::Tensor& lprobs,
                                                       const std::vector<double>& row_scores, int64_t documents,
                                                       int64_t groups) {
  // fairseq's DiverseBeamSearch.step: group g's rows (b = g, g + groups, ...) are penalized by strength x how
  // often groups 0..g-1 chose each token at this step, then searched as a beam of their own (2 x rows per group
  // candidates); the groups' candidates are interleaved (candidate j of group 0, of group 1, ...).
  const int64_t beam = options.beam, vocab = lprobs.size(1), per_group = beam / groups;
  const auto device = lprobs.device();
  const auto scores = torch::tensor(row_scores, torch::kDouble).to(device).view({documents, beam});  // (docs, beam)
  const auto rows = lprobs.view({documents, beam, vocab});            // (docs, beam, vocab)
  auto penalty = torch::zeros({documents, vocab}, lprobs.options());  // (docs, vocab)
  const int64_t count = std::min<int64_t>(2 * per_group, per_group * vocab);
  std::vector<torch::Tensor> group_scores, group_index;  // each (docs, count)
  for (int64_t g = 0; g < groups; ++g) {
    const auto index = torch::arange(g, beam, groups, torch::TensorOptions().dtype(torch::kLong).device(device));
    auto mine = rows.index_select(1, index);  // (docs, per_group, vocab)
    if (g > 0) mine = mine - options.diverse_beam_strength * penalty.unsqueeze(1);
    mine = mine + scores.index_select(1, index).unsqueeze(2);
    auto [top, flat] = mine.reshape({documents, per_group * vocab}).topk(count, 1, /*largest=*/true, /*sorted=*/true);
    penalty.scatter_add_(1, flat.remainder(vocab), torch::ones_like(top));
    group_scores.push_back(top.to(torch::kCPU).contiguous());
    group_index.push_back(flat.to(torch::kCPU).contiguous());
  }
  std::vector<std::vector<Candidate>> out(static_cast<size_t>(documents));
  for (int64_t a = 0; a < documents; ++a)
    for (int64_t j = 0; j < count; ++j)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t flat = group_index[g].data_ptr<int64_t>()[a * count + j];
        out[static_cast<size_t>(a)].push_back(
            {group_scores[g].data_ptr<double>()[a * count + j], (flat / vocab) * groups + g, flat % vocab});
      }
  return out;
}

std::vector<std::vector<Candidate>> sampled_candidates(const BeamSearchOptions& options, const torch::Tensor& lprobs,
                                                       const std::vector<Document>& docs,
                                                       const std::vector<int64_t>& active,
                                                       std::vector<std::mt19937_64>& streams, bool first_step) {
  // fairseq's Sampling.step: at the first step a document's beam rows draw (with replacement) from its one
  // distribution; afterwards each row draws its own next token.
  const int64_t beam = options.beam, vocab = lprobs.size(1);
  const torch::Tensor host = lprobs.to(torch::kCPU).contiguous();  // (rows, vocab)
  const double* p = host.data_ptr<double>();
  std::vector<std::vector<Candidate>> out(active.size());
  std::vector<int64_t> scratch;
  for (size_t a = 0; a < active.size(); ++a) {
    const Document& doc = docs[static_cast<size_t>(active[a])];
    auto& stream = streams[static_cast<size_t>(active[a])];
    for (int64_t b = 0; b < beam; ++b) {
      const int64_t parent = first_step ? 0 : b;
      const Row& row = doc.rows[static_cast<size_t>(parent)];
      const double* row_lprobs = p + (static_cast<int64_t>(a) * beam + parent) * vocab;
      const int64_t token = std::isfinite(row.score) ? draw_token(row_lprobs, vocab, options.sampling_topk,
                                                                  options.sampling_topp, stream, scratch)
                                                     : -1;
      out[a].push_back(token < 0 ? Candidate{kNegInf, parent, 0}
                                 : Candidate{row.score + row_lprobs[token], parent, token});
    }
  }
  return out;
}

}  // namespace

BeamSearch::BeamSearch(BeamSearchOptions options, SpecialTokenIds special) : options_(options), special_(special) {
  if (options_.beam < 1) throw std::invalid_argument("beam must be >= 1");
  if (options_.nbest < 1 || options_.nbest > options_.beam)
    throw std::invalid_argument("nbest must be between 1 and beam (" + std::to_string(options_.beam) + ")");
  if (options_.min_len < 0) throw std::invalid_argument("min_len must be >= 0");
}

std::vector<std::vector<Hypothesis>> BeamSearch::search(IncrementalDecoder& decoder,
                                                        const std::vector<int64_t>& source_lengths,
                                                        int64_t max_positions) const {
  if (options_.beam == 1 && options_.greedy_argmax && !options_.sampling && options_.temperature == 1.0)
    return greedy(decoder, source_lengths, max_positions);
  const int64_t beam = options_.beam;
  const int64_t batch = static_cast<int64_t>(source_lengths.size());
  // Diverse beam search: groups of beam / groups rows, row b in group b % groups (fairseq's strided layout).
  const int64_t groups = options_.diverse_beam_groups > 1 ? options_.diverse_beam_groups : 1;
  if (beam % groups != 0) throw std::invalid_argument("diverse_beam_groups must divide beam");
  if (!options_.document_ids.empty() && static_cast<int64_t>(options_.document_ids.size()) != batch)
    throw std::invalid_argument("document_ids must name every document of the search");
  std::vector<Document> docs(batch);
  std::vector<std::mt19937_64> streams;  // one per document: what it draws depends on nothing else
  int64_t longest = 0;
  for (int64_t d = 0; d < batch; ++d) {
    docs[d].max_len = summary_length_limit(options_, source_lengths[d], max_positions);
    docs[d].rows.assign(beam, Row{});
    longest = std::max(longest, docs[d].max_len);
    if (options_.sampling)
      streams.push_back(sampling_stream(options_.seed, options_.document_ids.empty() ? d : options_.document_ids[d]));
  }
  std::vector<int64_t> active(batch);  // documents whose rows the decoder holds, in row order
  for (int64_t d = 0; d < batch; ++d) active[d] = d;
  std::vector<int64_t> last_tokens(batch * beam, special_.bos);
  // A forced first token fills every row at step 0 (each with score 0); the search proper begins at the step after.
  const bool forcing = special_.forced_first >= 0;
  const int64_t first_free_step = forcing ? 1 : 0;

  for (int64_t step = 0; step <= longest && !active.empty(); ++step) {
    if (options_.cancelled && options_.cancelled()) throw GenerationCancelled();
    const int64_t documents = static_cast<int64_t>(active.size());
    const int64_t rows = documents * beam;
    torch::Tensor input = torch::tensor(last_tokens, torch::kLong);
    // The step's scores stay where the decoder computed them (the GPU): the constraints are applied as tensor
    // operations there and only the candidates per document come back to the host, instead of copying and looping
    // over rows x vocabulary every step.
    torch::Tensor lprobs = decoder.step(input).to(torch::kDouble).contiguous();  // (rows, vocab)
    if (lprobs.dim() != 2 || lprobs.size(0) != rows)
      throw std::runtime_error("decoder returned log-probabilities of shape " + std::to_string(lprobs.size(0)) +
                               " rows, expected " + std::to_string(rows));
    if (options_.temperature != 1.0) lprobs = torch::log_softmax(lprobs / options_.temperature, -1);
    const int64_t vocab = lprobs.size(1);
    const auto device = lprobs.device();
    auto on_device = [&](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong).to(device); };

    // Constraints, per row (decided on the host, applied on the device).
    std::vector<double> row_scores(static_cast<size_t>(rows));
    std::vector<int64_t> eos_only_rows, no_eos_rows, dead_rows, banned_rows, banned_tokens;
    for (int64_t a = 0; a < documents; ++a) {
      const Document& doc = docs[active[a]];
      for (int64_t b = 0; b < beam; ++b) {
        const int64_t r = a * beam + b;
        const Row& hyp = doc.rows[b];
        row_scores[static_cast<size_t>(r)] = hyp.score;
        if (step >= doc.max_len)
          eos_only_rows.push_back(r);
        else if (step < options_.min_len)
          no_eos_rows.push_back(r);
        if (options_.no_repeat_ngram_size > 0) {
          for (int64_t t : banned_by_ngrams(hyp.tokens, options_.no_repeat_ngram_size)) {
            banned_rows.push_back(r);
            banned_tokens.push_back(t);
          }
        }
        // At the first step all beams are the same: expand only the first (of each group).
        if (step == first_free_step && b >= groups) dead_rows.push_back(r);
      }
    }
    if (special_.pad >= 0 && special_.pad < vocab) lprobs.select(1, special_.pad).fill_(kNegInf);
    if (special_.unk >= 0 && special_.unk < vocab && options_.unk_penalty != 0)
      lprobs.select(1, special_.unk).sub_(options_.unk_penalty);
    if (!eos_only_rows.empty()) {  // at the maximum length only EOS remains
      const torch::Tensor index = on_device(eos_only_rows);
      const torch::Tensor eos = lprobs.select(1, special_.eos).index_select(0, index);
      lprobs.index_fill_(0, index, kNegInf);
      lprobs.select(1, special_.eos).index_copy_(0, index, eos);
    }
    if (!no_eos_rows.empty()) lprobs.select(1, special_.eos).index_fill_(0, on_device(no_eos_rows), kNegInf);
    if (!banned_rows.empty())
      lprobs.index_put_({on_device(banned_rows), on_device(banned_tokens)}, torch::full({}, kNegInf, lprobs.options()));
    if (!dead_rows.empty()) lprobs.index_fill_(0, on_device(dead_rows), kNegInf);
    const bool forced_step = forcing && step == 0;
    if (forced_step) {  // Hugging Face's ForcedBOSTokenLogitsProcessor: the token alone, with log-probability 0
      lprobs.fill_(kNegInf);
      lprobs.select(1, special_.forced_first).fill_(0.0);
    }

    // Candidates per document, in the order fairseq's search returns them; the forced step's are the forced token
    // on every row (no diversity penalty, nothing drawn).
    const std::vector<std::vector<Candidate>> candidates =
        forced_step         ? best_candidates(options_, lprobs, row_scores, documents)
        : options_.sampling ? sampled_candidates(options_, lprobs, docs, active, streams, step == first_free_step)
        : groups > 1        ? diverse_candidates(options_, lprobs, row_scores, documents, groups)
                            : best_candidates(options_, lprobs, row_scores, documents);

    std::vector<int64_t> next_active;
    std::vector<int64_t> reorder_rows;
    std::vector<int64_t> next_tokens;
    for (int64_t a = 0; a < documents; ++a) {
      Document& doc = docs[active[a]];
      std::vector<Row> next;
      std::vector<int64_t> sources;
      const auto& mine = candidates[static_cast<size_t>(a)];
      for (int64_t j = 0; j < static_cast<int64_t>(mine.size()); ++j) {
        const auto [total, b, token] = mine[static_cast<size_t>(j)];
        if (!std::isfinite(total)) continue;
        const Row& parent = doc.rows[b];
        const double token_score = total - parent.score;
        if (token == special_.eos) {
          // As fairseq: only EOS among the first `beam` candidates finishes a hypothesis.
          if (j < beam && static_cast<int64_t>(doc.finished.size()) < beam) {
            Hypothesis h;
            h.tokens = parent.tokens;
            h.positional_scores = parent.positional_scores;
            h.positional_scores.push_back(token_score);
            h.score = total / std::pow(static_cast<double>(step + 1), options_.lenpen);
            doc.finished.push_back(std::move(h));
          }
          continue;
        }
        if (static_cast<int64_t>(next.size()) < beam) {
          Row r;
          r.tokens = parent.tokens;
          r.tokens.push_back(token);
          r.positional_scores = parent.positional_scores;
          r.positional_scores.push_back(token_score);
          r.score = total;
          next.push_back(std::move(r));
          sources.push_back(a * beam + b);
          // One row: its tokens are the summary as it grows (a streaming request's).
          if (beam == 1 && options_.on_token) options_.on_token(active[a], token);
        }
      }
      doc.done = static_cast<int64_t>(doc.finished.size()) >= beam || step >= doc.max_len || next.empty();
      if (doc.done) continue;
      // Fewer live candidates than beams (tiny vocabularies, sampled EOS): fill with dead rows that never win.
      while (static_cast<int64_t>(next.size()) < beam) {
        Row dead = next.back();
        dead.score = kNegInf;
        next.push_back(dead);
        sources.push_back(sources.back());
      }
      doc.rows = std::move(next);
      next_active.push_back(active[a]);
      for (int64_t b = 0; b < beam; ++b) {
        reorder_rows.push_back(sources[b]);
        next_tokens.push_back(doc.rows[b].tokens.back());
      }
    }
    active = std::move(next_active);
    last_tokens = std::move(next_tokens);
    if (!active.empty()) decoder.reorder(torch::tensor(reorder_rows, torch::kLong));
  }

  std::vector<std::vector<Hypothesis>> results(batch);
  for (int64_t d = 0; d < batch; ++d) {
    auto& finished = docs[d].finished;
    std::stable_sort(finished.begin(), finished.end(),
                     [](const Hypothesis& x, const Hypothesis& y) { return x.score > y.score; });
    const int64_t keep = std::min<int64_t>(options_.nbest, static_cast<int64_t>(finished.size()));
    results[d].assign(finished.begin(), finished.begin() + keep);
  }
  return results;
}

std::vector<std::vector<Hypothesis>> BeamSearch::greedy(IncrementalDecoder& decoder,
                                                        const std::vector<int64_t>& source_lengths,
                                                        int64_t max_positions) const {
  // What search() does at beam 1, step for step: the best candidate of each row is its argmax; EOS there
  // finishes the document, -inf everywhere ends it without a hypothesis. Scores are summed in float64 in the same
  // order (log-probability, minus the UNK penalty, plus the row score), so the hypotheses are the same numbers.
  const int64_t batch = static_cast<int64_t>(source_lengths.size());
  std::vector<Document> docs(batch);
  int64_t longest = 0;
  for (int64_t d = 0; d < batch; ++d) {
    docs[d].max_len = summary_length_limit(options_, source_lengths[d], max_positions);
    docs[d].rows.assign(1, Row{});
    longest = std::max(longest, docs[d].max_len);
  }
  std::vector<int64_t> active(batch);  // documents whose rows the decoder holds, in row order
  for (int64_t d = 0; d < batch; ++d) active[d] = d;
  std::vector<int64_t> last_tokens(batch, special_.bos);
  const bool penalize_unk = options_.unk_penalty != 0;

  for (int64_t step = 0; step <= longest && !active.empty(); ++step) {
    if (options_.cancelled && options_.cancelled()) throw GenerationCancelled();
    const int64_t rows = static_cast<int64_t>(active.size());
    torch::Tensor lprobs = decoder.step(torch::tensor(last_tokens, torch::kLong));  // (rows, vocab)
    if (lprobs.dim() != 2 || lprobs.size(0) != rows)
      throw std::runtime_error("decoder returned log-probabilities of shape " + std::to_string(lprobs.size(0)) +
                               " rows, expected " + std::to_string(rows));
    lprobs = lprobs.contiguous();
    const int64_t vocab = lprobs.size(1);
    const auto device = lprobs.device();
    auto on_device = [&](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong).to(device); };
    std::vector<int64_t> eos_only_rows, no_eos_rows, banned_rows, banned_tokens;
    for (int64_t r = 0; r < rows; ++r) {
      const Document& doc = docs[active[r]];
      if (step >= doc.max_len)
        eos_only_rows.push_back(r);
      else if (step < options_.min_len)
        no_eos_rows.push_back(r);
      if (options_.no_repeat_ngram_size > 0) {
        for (int64_t t : banned_by_ngrams(doc.rows[0].tokens, options_.no_repeat_ngram_size)) {
          banned_rows.push_back(r);
          banned_tokens.push_back(t);
        }
      }
    }
    const double neg_inf = kNegInf;
    if (special_.pad >= 0 && special_.pad < vocab) lprobs.select(1, special_.pad).fill_(neg_inf);
    if (!eos_only_rows.empty()) {
      const torch::Tensor index = on_device(eos_only_rows);
      const torch::Tensor eos = lprobs.select(1, special_.eos).index_select(0, index);
      lprobs.index_fill_(0, index, neg_inf);
      lprobs.select(1, special_.eos).index_copy_(0, index, eos);
    }
    if (!no_eos_rows.empty()) lprobs.select(1, special_.eos).index_fill_(0, on_device(no_eos_rows), neg_inf);
    if (!banned_rows.empty())
      lprobs.index_put_({on_device(banned_rows), on_device(banned_tokens)}, torch::full({}, neg_inf, lprobs.options()));
    if (step == 0 && special_.forced_first >= 0) {  // as search(): the forced token alone, log-probability 0
      lprobs.fill_(neg_inf);
      lprobs.select(1, special_.forced_first).fill_(0.0);
    }
    // The UNK penalty is subtracted in float64 as search() does: UNK competes separately with the argmax of the rest.
    const bool unk_apart = penalize_unk && special_.unk >= 0 && special_.unk < vocab;
    torch::Tensor unk_values;
    if (unk_apart) {
      unk_values = lprobs.select(1, special_.unk).to(torch::kCPU, torch::kDouble).contiguous();  // (rows)
      lprobs.select(1, special_.unk).fill_(neg_inf);
    }
    auto [best_values_device, best_index_device] = lprobs.max(1);
    const torch::Tensor best_values = best_values_device.to(torch::kCPU, torch::kDouble).contiguous();
    const torch::Tensor best_index = best_index_device.to(torch::kCPU, torch::kLong).contiguous();
    const double* bv = best_values.data_ptr<double>();
    const int64_t* bi = best_index.data_ptr<int64_t>();

    std::vector<int64_t> next_active, keep_rows, next_tokens;
    for (int64_t r = 0; r < rows; ++r) {
      Document& doc = docs[active[r]];
      Row& row = doc.rows[0];
      double value = bv[r];
      int64_t token = bi[r];
      if (unk_apart) {
        const double unk = unk_values.data_ptr<double>()[r] - options_.unk_penalty;
        if (unk > value || (unk == value && special_.unk < token)) {
          value = unk;
          token = special_.unk;
        }
      }
      const double total = value + row.score;
      if (!std::isfinite(total)) {
        doc.done = true;  // nothing left to choose: no hypothesis (as search())
        continue;
      }
      const double token_score = total - row.score;
      if (token == special_.eos) {
        Hypothesis h;
        h.tokens = row.tokens;
        h.positional_scores = row.positional_scores;
        h.positional_scores.push_back(token_score);
        h.score = total / std::pow(static_cast<double>(step + 1), options_.lenpen);
        doc.finished.push_back(std::move(h));
        doc.done = true;
        continue;
      }
      row.tokens.push_back(token);
      row.positional_scores.push_back(token_score);
      row.score = total;
      if (options_.on_token) options_.on_token(active[r], token);
      if (step >= doc.max_len) {
        doc.done = true;
        continue;
      }
      next_active.push_back(active[r]);
      keep_rows.push_back(r);
      next_tokens.push_back(token);
    }
    // Rows only ever leave (finished documents): the cache is compacted then, and left alone otherwise.
    const bool all_kept = static_cast<int64_t>(keep_rows.size()) == rows;
    active = std::move(next_active);
    last_tokens = std::move(next_tokens);
    if (!active.empty() && !all_kept) decoder.reorder(torch::tensor(keep_rows, torch::kLong));
  }

  std::vector<std::vector<Hypothesis>> results(batch);
  for (int64_t d = 0; d < batch; ++d) results[d] = std::move(docs[d].finished);
  return results;
}

}  // namespace pyramidion
