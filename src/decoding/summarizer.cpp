#include "pyramidion/decoding/summarizer.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/data/prepare.h"
#include "pyramidion/data/tokenizer.h"
#include "pyramidion/decoding/summary_generator.h"
#include "pyramidion/models/compute_type.h"
#include "pyramidion/models/model_file.h"
#include "pyramidion/util/device.h"
#include "pyramidion/util/text_predicates.h"

namespace pyramidion {
namespace {

SpecialTokenIds special_ids(const ModelConfig& config, const data::Tokenizer* tokenizer) {
  SpecialTokenIds ids{config.pad_id, /*unk=*/-1, config.decoder_start(),
                      config.eos_id};              // bos: the first decoder input
  ids.forced_first = config.forced_first_token();  // target_bos: BOS is generated first, as it was trained
  if (!tokenizer) return ids;                      // no unknown-token penalty without a tokenizer to name the id
  auto check = [&](const char* what, int64_t model_id, int64_t tokenizer_id) {
    if (model_id != tokenizer_id)
      throw std::invalid_argument(std::string("the tokenizer's ") + what + " id is " + std::to_string(tokenizer_id) +
                                  " but the model's " + what + "_id is " + std::to_string(model_id));
  };
  check("pad", config.pad_id, tokenizer->pad_id());
  // A tokenizer without BOS (PEGASUS's) starts from EOS, as check_special_ids takes it.
  check("bos", config.bos_id, tokenizer->bos_id() >= 0 ? tokenizer->bos_id() : tokenizer->eos_id());
  check("eos", config.eos_id, tokenizer->eos_id());
  ids.unk = tokenizer->unk_id();
  return ids;
}

// Row `row` of a batch's pooling records, padding removed: (1, n_in) scores and mask per layer.
std::vector<PoolingRecord> document_pooling(const std::vector<PoolingRecord>& records, int64_t row) {
  std::vector<PoolingRecord> out;
  out.reserve(records.size());
  for (const auto& record : records) {
    PoolingRecord r = record;
    const int64_t length = record.mask[row].sum().item<int64_t>();
    r.scores = record.scores.narrow(0, row, 1).narrow(1, 0, length).clone();
    r.mask = record.mask.narrow(0, row, 1).narrow(1, 0, length).clone();
    out.push_back(std::move(r));
  }
  return out;
}

// The decoder's cross-attention while it produced `tokens` (EOS excluded) from row `row` of the batch's memory:
// (tokens, real memory_len), averaged over layers and heads; a copy-attention model's pointing distribution and
// its gate (*copy_gate (tokens)) instead.
torch::Tensor best_cross_attention(const SummarizationModel& model, const EncoderOutput& encoded, int64_t row,
                                   const std::vector<int64_t>& tokens, int64_t bos_id, torch::Tensor* copy_gate) {
  c10::InferenceMode inference;
  SummarizationModel m = model;  // cross_attention() is not const, but reads only
  const auto device = encoded.states.device();
  EncoderOutput memory =
      encoded.index_select(torch::tensor({row}, torch::TensorOptions().dtype(torch::kLong).device(device)));
  const int64_t length = memory.mask.sum().item<int64_t>();
  memory.states = memory.states.narrow(1, 0, length);
  memory.mask = memory.mask.narrow(1, 0, length);
  if (memory.copy.defined()) {
    memory.copy.ids = memory.copy.ids.narrow(1, 0, length);
    memory.copy.weights = memory.copy.weights.narrow(1, 0, length);
  }
  std::vector<int64_t> input{bos_id};
  input.insert(input.end(), tokens.begin(), tokens.end() - 1);
  torch::Tensor target_in = torch::tensor(input, torch::kLong).unsqueeze(0).to(device);  // (1, tokens)
  if (m->config().copy_attention) {
    torch::Tensor pointing;  // (1, tokens, memory_len)
    *copy_gate = m->copy_gate(target_in, memory, &pointing)[0].to(torch::kCPU).contiguous();
    return pointing[0].to(torch::kCPU).contiguous();
  }
  torch::Tensor weights = m->cross_attention(target_in, memory);  // (1, layers, heads, tokens, memory_len)
  return weights[0].mean(std::vector<int64_t>{0, 1}).to(torch::kCPU).contiguous();
}

// Tokens a source may keep (EOS included): the model's positions, or fewer when the caller asks.
int64_t source_length_limit(const ModelConfig& config, const GenerationOptions& options) {
  if (options.max_source_length > 0) return std::min(options.max_source_length, config.max_source_positions);
  return config.max_source_positions;
}

}  // namespace

Summarizer Summarizer::load(const std::string& path, const SummarizerOptions& options) {
  const c10::Device device = [&] {
    try {
      return parse_device(options.device);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("device ") + e.what());
    }
  }();
  // --dtype is compute_type's earlier name: it decides only while compute_type is left at "default".
  const bool legacy_dtype = options.compute_type == "default" && options.dtype != "float32";
  const std::string option_name = legacy_dtype ? "dtype" : "compute_type";
  const ComputeType requested = [&] {
    try {
      if (legacy_dtype) {
        const c10::ScalarType dtype = parse_dtype(options.dtype);  // also "double", "half"
        return dtype == c10::kDouble     ? ComputeType::float64
               : dtype == c10::kBFloat16 ? ComputeType::bfloat16
               : dtype == c10::kHalf     ? ComputeType::float16
                                         : ComputeType::float32;
      }
      return parse_compute_type(options.compute_type);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(option_name + " " + e.what());
    }
  }();
  // Checked before the file is read, so a bad combination is named as the option's error.
  if (requested == ComputeType::float16 && !device.is_cuda())
    throw std::invalid_argument(option_name + " float16: needs a CUDA device");
  if (requested == ComputeType::int8_float32 && !device.is_cpu())
    throw std::invalid_argument(option_name + " " + options.compute_type + ": int8 runs on the CPU only (device " +
                                device.str() + ")");
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such model file");

  LoadedModel loaded = load_model_file(path, device);
  const ComputeType type = [&] {
    try {
      return resolve_compute_type(requested, device, loaded.int8);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(option_name + " " + e.what());
    }
  }();
  if (loaded.tokenizer_bytes.empty()) throw std::runtime_error(path + ": the model file holds no tokenizer");
  std::shared_ptr<const data::Tokenizer> tokenizer;
  try {  // SentencePiece or byte-level BPE (an imported BART), by the bytes' form
    tokenizer = std::make_shared<const data::Tokenizer>(data::Tokenizer::from_bytes(loaded.tokenizer_bytes));
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": the embedded tokenizer cannot be read: " + e.what());
  }
  check_vocabulary(loaded.config, tokenizer->vocab_size(), path);
  check_special_ids(loaded.config, tokenizer->pad_id(), tokenizer->bos_id(), tokenizer->eos_id(), path);
  if (type == ComputeType::int8_float32)
    loaded.model->quantize_int8();  // no-op for an int8 file
  else if (activation_dtype(type) != c10::kFloat)
    loaded.model->to(device, activation_dtype(type));
  loaded.model->eval();
  try {
    Summarizer summarizer(loaded.model, std::move(tokenizer));
    summarizer.path_ = path;
    summarizer.compute_type_ = compute_type_name(type);
    summarizer.metadata_ = std::make_shared<const nlohmann::json>(std::move(loaded.metadata));
    return summarizer;
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

Summarizer::Summarizer(SummarizationModel model, std::shared_ptr<const data::Tokenizer> tokenizer)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      special_(special_ids(model_->config(), tokenizer_.get())),
      device_(model_->parameters().front().device()),
      metadata_(std::make_shared<const nlohmann::json>()) {}

const ModelConfig& Summarizer::config() const { return model_->config(); }

Summarizer::Summarizer(SummarizationModel model, const std::shared_ptr<const data::SentencePieceTokenizer>& tokenizer)
    : Summarizer(std::move(model), tokenizer ? std::make_shared<const data::Tokenizer>(*tokenizer)
                                             : std::shared_ptr<const data::Tokenizer>()) {}

Summarizer::Summarizer(SummarizationModel model, std::nullptr_t)
    : Summarizer(std::move(model), std::shared_ptr<const data::Tokenizer>()) {}

const data::Tokenizer& Summarizer::tokenizer() const {
  if (!tokenizer_) throw std::logic_error("Summarizer: built without a tokenizer");
  return *tokenizer_;
}

std::vector<DocumentSummary> Summarizer::summarize(const std::vector<std::string>& documents,
                                                   const GenerationOptions& options) const {
  std::vector<std::vector<std::string>> sentences;
  sentences.reserve(documents.size());
  for (const auto& d : documents) sentences.push_back({d});
  return summarize_sentences(sentences, options);
}

std::vector<int64_t> Summarizer::encode_source(const std::vector<std::string>& sentences,
                                               const GenerationOptions& options, bool& truncated) const {
  // Encoded exactly as `data prepare` encodes training sources (the model's framing, EOS, truncation).
  data::PrepareOptions encoding;
  encoding.max_source_length = static_cast<int>(std::min<int64_t>(source_length_limit(config(), options), 1 << 30));
  encoding.source_sentence_separators = config().source_sentence_separators;
  encoding.source_bos = config().source_bos;
  data::SummarizationExample example;
  example.source_sentences = sentences;
  std::vector<int64_t> source, target;
  bool target_truncated = false;
  truncated = false;
  data::encode_example(tokenizer(), example, encoding, source, target, truncated, target_truncated);
  return source;
}

std::vector<DocumentSummary> Summarizer::summarize_sentences(const std::vector<std::vector<std::string>>& documents,
                                                             const GenerationOptions& options) const {
  std::vector<std::vector<int64_t>> sources(documents.size());
  std::vector<char> truncated(documents.size(), 0);
  for (size_t i = 0; i < documents.size(); ++i) {
    if (std::all_of(documents[i].begin(), documents[i].end(), blank)) continue;  // nothing to summarize
    bool source_truncated = false;
    sources[i] = encode_source(documents[i], options, source_truncated);
    truncated[i] = source_truncated;
  }
  auto results = summarize_tokens(sources, options);
  for (size_t i = 0; i < results.size(); ++i) results[i].truncated = results[i].truncated || truncated[i];
  return results;
}

std::vector<DocumentSummary> Summarizer::summarize_tokens(const std::vector<std::vector<int64_t>>& documents,
                                                          const GenerationOptions& options) const {
  validate(options);
  if (!options.sampling_streams.empty() && options.sampling_streams.size() != documents.size())
    throw std::invalid_argument("sampling_streams has " + std::to_string(options.sampling_streams.size()) +
                                " entries for " + std::to_string(documents.size()) + " documents");
  const auto& cfg = config();
  const int64_t max_length = source_length_limit(cfg, options);
  std::vector<DocumentSummary> results(documents.size());
  std::vector<std::vector<int64_t>> docs(documents.size());
  std::vector<size_t> order;  // documents that have tokens
  for (size_t i = 0; i < documents.size(); ++i) {
    if (documents[i].empty()) continue;
    auto& d = docs[i];
    d = documents[i];
    if (d.back() != cfg.eos_id) d.push_back(cfg.eos_id);
    if (static_cast<int64_t>(d.size()) > max_length) {
      d.resize(static_cast<size_t>(max_length));
      d.back() = cfg.eos_id;
      results[i].truncated = true;
    }
    results[i].source_tokens = static_cast<int64_t>(d.size());
    order.push_back(i);
  }
  // Longest first, so each batch holds documents of similar length.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return docs[a].size() > docs[b].size(); });
  const SummaryGenerator generator(model_, options.search, special_);
  size_t start = 0;
  while (start < order.size()) {
    if (options.search.cancelled && options.search.cancelled()) throw GenerationCancelled();
    const int64_t longest = static_cast<int64_t>(docs[order[start]].size());
    size_t end = start + 1;
    while (end < order.size() && static_cast<int64_t>(end - start) < options.max_documents_per_batch &&
           longest * static_cast<int64_t>(end - start + 1) <= options.max_source_tokens_per_batch)
      ++end;
    const int64_t count = static_cast<int64_t>(end - start);
    auto source = torch::full({count, longest}, cfg.pad_id, torch::kLong);  // (count, longest)
    auto mask = torch::zeros({count, longest}, torch::kBool);               // (count, longest)
    std::vector<int64_t> document_ids;  // each document's index in this call: its sampling stream
    for (int64_t i = 0; i < count; ++i) {
      const auto& d = docs[order[start + static_cast<size_t>(i)]];
      const int64_t len = static_cast<int64_t>(d.size());
      source[i].narrow(0, 0, len).copy_(torch::tensor(d, torch::kLong));
      mask[i].narrow(0, 0, len).fill_(true);
      const size_t index = order[start + static_cast<size_t>(i)];
      document_ids.push_back(options.sampling_streams.empty() ? static_cast<int64_t>(index)
                                                              : options.sampling_streams[index]);
    }
    GeneratedBatch batch = generator.generate(source, mask, document_ids);
    for (int64_t i = 0; i < count; ++i) {
      auto& result = results[order[start + static_cast<size_t>(i)]];
      for (auto& h : batch.hypotheses[static_cast<size_t>(i)]) {
        SummaryHypothesis hypothesis;
        if (tokenizer_) hypothesis.text = tokenizer_->decode(h.tokens);
        hypothesis.tokens = std::move(h.tokens);
        hypothesis.score = h.score;
        result.hypotheses.push_back(std::move(hypothesis));
      }
      if (options.return_pooling) {
        c10::InferenceMode inference;
        result.pooling = document_pooling(batch.encoded.pooling, i);
      }
      if (options.return_cross_attention && !result.hypotheses.empty() && !result.hypotheses[0].tokens.empty())
        result.cross_attention = best_cross_attention(model_, batch.encoded, i, result.hypotheses[0].tokens,
                                                      cfg.decoder_start(), &result.copy_gate);
    }
    start = end;
  }
  return results;
}

}  // namespace pyramidion
