#pragma once
// The library's one entry point for summarizing: load a model file (config, weights, tokenizer) once, then
// turn raw documents into n-best summaries. The CLI (`summarize`, `evaluate`, `demo`), the trainer's
// validation and the server all call this; nothing else tokenizes, batches, generates and detokenizes.
//
//   auto summarizer = pyramidion::Summarizer::load("model.pt", {.device = "cpu"});
//   pyramidion::GenerationOptions generation;  // beam search + batching
//   generation.search.beam = 4;
//   auto results = summarizer.summarize({"first document ...", "second document ..."}, generation);
//   std::cout << results[0].hypotheses[0].text << "\n";
//
// Thread safety: summarize() is const and may run from several threads at once on one Summarizer; each call
// works under inference mode on its own decoder caches and never changes the model's train/eval state.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pyramidion/decoding/beam_search.h"
#include "pyramidion/decoding/generation_options.h"
#include "pyramidion/models/model_config.h"
#include "pyramidion/models/summarization_model.h"
#include "pyramidion/nn/representation_pooler.h"

namespace pyramidion {
namespace data {
class SentencePieceTokenizer;
class Tokenizer;
}  // namespace data

struct SummarizerOptions {
  std::string device = "cpu";     // "cpu", "cuda", "cuda:N", or "auto" (CUDA when available)
  std::string dtype = "float32";  // deprecated, compute_type's earlier name: used only while compute_type is "default"
  // float32, int8 (= int8_float32: int8 weights per output row, float32 activations; CPU), bfloat16, auto (the
  // fastest the device supports), default (the model file's own type), float64, float16 (CUDA); models/compute_type.h.
  // int8 quantizes a float model at load; an int8 file (`pyramidion quantize`) loads as it is.
  std::string compute_type = "default";
};

struct SummaryHypothesis {
  std::string text;             // detokenized; sentence separators become "\n"
  std::vector<int64_t> tokens;  // generated ids, EOS excluded (with target_bos the forced BOS first; text drops it)
  double score = 0;             // length-normalized log-probability (BeamSearchOptions::lenpen)
};

struct DocumentSummary {
  std::vector<SummaryHypothesis> hypotheses;  // best first, up to GenerationOptions::search.nbest; empty = no input
  int64_t source_tokens = 0;                  // tokens the encoder read (EOS included, after truncation)
  bool truncated = false;                     // the document was longer than max_source_positions
  // With GenerationOptions::return_pooling: what each pooling layer saw for this document (batch dimension 1,
  // padding removed); trace_pooling() (nn/pooling_trace.h) turns them into the highlight view's provenance.
  std::vector<PoolingRecord> pooling;
  // With GenerationOptions::return_cross_attention: (summary_tokens, memory_len) float32, the decoder's
  // cross-attention over this document's memory slots while it produced each token of hypotheses[0] (mean over
  // decoder layers and heads; rows sum to 1). Undefined when there is no hypothesis or it is empty. A model with
  // copy attention gives its pointing distribution instead (the alignment heads: where its copies come from).
  torch::Tensor cross_attention;
  // With return_cross_attention and a copy-attention model: (summary_tokens) float32 p_gen, the probability that
  // each token of hypotheses[0] was generated from the vocabulary rather than copied. Undefined otherwise.
  torch::Tensor copy_gate;
};

class Summarizer {
 public:
  // Reads and checks a model file: the weights must match the config and the embedded tokenizer the vocabulary.
  // Throws std::runtime_error naming the file (one line) on a missing, corrupt or inconsistent file, and
  // std::invalid_argument naming the option on a bad device or dtype.
  static Summarizer load(const std::string& path, const SummarizerOptions& options = {});

  // Wraps a model that already exists (e.g. the trainer's, for validation). The model is not copied: it must be
  // in eval mode whenever summarize() runs (summarize() throws std::logic_error otherwise). `tokenizer` may be null:
  // then only summarize_tokens() works, and hypotheses carry no text. Special ids: pad/bos/eos from the model's
  // config, unk from the tokenizer (checked against each other).
  // The tokenizer of either kind (data/any_tokenizer.h); a SentencePieceTokenizer is wrapped.
  Summarizer(SummarizationModel model, std::shared_ptr<const data::Tokenizer> tokenizer);
  Summarizer(SummarizationModel model, const std::shared_ptr<const data::SentencePieceTokenizer>& tokenizer);
  Summarizer(SummarizationModel model, std::nullptr_t);

  // Raw texts, one document each (empty or whitespace-only documents get no hypotheses). Results in input order.
  std::vector<DocumentSummary> summarize(const std::vector<std::string>& documents,
                                         const GenerationOptions& options) const;
  // Documents as sentence lists (the arXiv/PubMed `article_text` layout), joined as training data is.
  std::vector<DocumentSummary> summarize_sentences(const std::vector<std::vector<std::string>>& documents,
                                                   const GenerationOptions& options) const;
  // The source ids a document's sentences become, exactly as `data prepare` encoded the model's training sources:
  // the model's framing (config().source_sentence_separators: sentences joined by <sep>, else by spaces;
  // config().source_bos: BOS first), EOS,
  // cut at the source length limit (options.max_source_length, max_source_positions); truncated says whether it
  // was cut. The one encoding summarize_sentences() and highlight use.
  std::vector<int64_t> encode_source(const std::vector<std::string>& sentences, const GenerationOptions& options,
                                     bool& truncated) const;
  // Already-tokenized documents, framed as encode_source() frames them (a leading BOS when config().source_bos, as
  // a prepared dataset's sources; nothing is added at the front); EOS appended when missing, truncated to
  // max_source_positions.
  std::vector<DocumentSummary> summarize_tokens(const std::vector<std::vector<int64_t>>& documents,
                                                const GenerationOptions& options) const;

  const ModelConfig& config() const;
  const data::Tokenizer& tokenizer() const;  // throws std::logic_error when there is none
  bool has_tokenizer() const { return tokenizer_ != nullptr; }
  SpecialTokenIds special_tokens() const { return special_; }
  SummarizationModel model() const { return model_; }
  const torch::Device& device() const { return device_; }
  const std::string& path() const { return path_; }  // "" when built from a model
  // What the loaded model computes in ("float32", "int8_float32", ...; resolved from auto/default).
  const std::string& compute_type() const { return compute_type_; }
  const nlohmann::json& metadata() const { return *metadata_; }  // the model file's META section (null if none)

 private:
  SummarizationModel model_;
  std::shared_ptr<const data::Tokenizer> tokenizer_;
  SpecialTokenIds special_;
  torch::Device device_;
  std::string path_;
  std::string compute_type_ = "float32";
  std::shared_ptr<const nlohmann::json> metadata_;
};

}  // namespace pyramidion
