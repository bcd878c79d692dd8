#pragma once
// Beam search with fairseq's sequence-generator semantics, batched over documents x beams.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "pyramidion/decoding/incremental_decoder.h"

namespace pyramidion {

struct BeamSearchOptions {
  int64_t beam = 4;                  // 1 = greedy
  double lenpen = 1.0;               // final score = sum of log-probs / length^lenpen (length counts EOS)
  int64_t min_len = 1;               // EOS is forbidden before this many tokens
  double max_len_a = 0.0;            // max length = a * source_length + b
  int64_t max_len_b = 200;
  int64_t no_repeat_ngram_size = 0;  // > 0: never repeat an n-gram of this size
  int64_t nbest = 1;                 // hypotheses returned per document
  double unk_penalty = 0.0;          // subtracted from the UNK log-probability
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
  int64_t pad = 0, unk = 1, bos = 2, eos = 3;
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
