#pragma once
// Beam search with fairseq's sequence-generator semantics, batched over documents x beams.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "pyramidion/decoding/incremental_decoder.h"

namespace pyramidion {

struct BeamSearchOptions {
  int64_t beam = 4;        // 1 = greedy
  double lenpen = 1.0;     // final score = sum of log-probs / length^lenpen (length counts EOS)
  int64_t min_len = 1;     // EOS is forbidden before this many tokens
  double max_len_a = 0.0;  // max length = a * source_length + b
  int64_t max_len_b = 200;
  int64_t no_repeat_ngram_size = 0;  // > 0: never repeat an n-gram of this size
  int64_t nbest = 1;                 // hypotheses returned per document
  double unk_penalty = 0.0;          // subtracted from the UNK log-probability
  // Log-probabilities become log_softmax(lprobs / temperature) before any other rule (fairseq divides the logits).
  double temperature = 1.0;
  // Sampling (fairseq's Sampling search): each row draws its next token from its distribution instead of taking
  // the best; at the first step a document's `beam` rows draw from its one distribution. A token's score is its
  // log-probability (after temperature, not renormalized over the top-k/top-p set). Draws come from one random
  // stream per document, seeded by (seed, document_ids[d]): a document's summary depends on neither its batch nor
  // the other documents.
  bool sampling = false;
  int64_t sampling_topk = -1;   // > 0: draw from the k most likely tokens only
  double sampling_topp = -1.0;  // in (0, 1]: draw from the smallest set whose probability reaches p
  int64_t seed = 1;
  // Diverse beam search (Vijayakumar et al. 2016; fairseq's DiverseBeamSearch): the beam is split into groups of
  // beam / groups rows (row b in group b % groups); each group's candidates are penalized by strength x the number
  // of times earlier groups chose the same token at this step. -1 or 1 = plain beam search.
  int64_t diverse_beam_groups = -1;
  double diverse_beam_strength = 0.5;
  // Sampling streams: document d of a search() call draws from the stream of document_ids[d] (the Summarizer sets
  // each document's index in its call); empty = 0, 1, 2, ... Not a decoding option.
  std::vector<int64_t> document_ids;
  // beam 1 takes the argmax of each row (no float64 copy, no top-k, no cache reorder while no document ends);
  // same hypotheses as the beam machinery (false runs that, e.g. to compare).
  bool greedy_argmax = true;
  // Cancellation: when set, called before each decoding step (and by Summarizer before each batch); returning
  // true stops the generation with GenerationCancelled. The server sets it for requests whose client left or
  // whose deadline passed. Not compared by the batching (it is no decoding option).
  std::function<bool()> cancelled;
  // Streaming: when set, greedy search (beam 1) calls it with (document, token) for each token as it is chosen,
  // in order, EOS excluded; `document` indexes the search's batch. Not a decoding option (the batching never puts
  // a request that sets it together with another). Beam search > 1 does not call it: its best hypothesis is only
  // known at the end.
  std::function<void(int64_t document, int64_t token)> on_token;
};

// Thrown by BeamSearch, SummaryGenerator and Summarizer when BeamSearchOptions::cancelled returned true.
struct GenerationCancelled : std::runtime_error {
  GenerationCancelled() : std::runtime_error("generation cancelled") {}
};

struct SpecialTokenIds {
  int64_t pad = 0, unk = 1, bos = 2, eos = 3;  // bos: the first decoder input (the model's decoder_start())
  // >= 0: the first generated token of every hypothesis (Hugging Face's forced_bos_token_id, fairseq BART's prefix
  // token), with log-probability 0, whatever the search (beam, diverse groups, sampling); it counts in the length.
  int64_t forced_first = -1;
};

struct Hypothesis {
  std::vector<int64_t> tokens;            // generated tokens, EOS excluded
  double score = 0;                       // length-normalized as above
  std::vector<double> positional_scores;  // log-probability of each token, EOS included
};

class BeamSearch {
 public:
  BeamSearch(BeamSearchOptions options, SpecialTokenIds special);

  // The decoder starts with batch * beam rows (document-major: row r belongs to document r / beam), all
  // primed for the first step; the first input token is BOS. source_lengths (batch) set each document's
  // max length (a * length + b, at most max_positions - 1). Returns, per document, up to nbest
  // hypotheses, best first.
  std::vector<std::vector<Hypothesis>> search(IncrementalDecoder& decoder, const std::vector<int64_t>& source_lengths,
                                              int64_t max_positions) const;

  const BeamSearchOptions& options() const { return options_; }

 private:
  // beam == 1 with greedy_argmax: the same results as search() by argmax per row.
  std::vector<std::vector<Hypothesis>> greedy(IncrementalDecoder& decoder, const std::vector<int64_t>& source_lengths,
                                              int64_t max_positions) const;

  BeamSearchOptions options_;
  SpecialTokenIds special_;
};

}  // namespace pyramidion
