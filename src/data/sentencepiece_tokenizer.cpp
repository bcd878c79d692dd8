#include "pyramidion/data/tokenizer.h"

#include <cstdio>
#include <stdexcept>
#include <thread>
#include <utility>

#include "binary_format.h"
#include "pyramidion/util/atomic_file.h"
#include "sentence_join.h"
#include "spm_library.h"

namespace pyramidion::data {

struct SentencePieceTokenizer::Handle {
  const SpmLibrary* lib = nullptr;
  spm_processor* processor = nullptr;
  ~Handle() {
    if (processor) lib->free_processor(processor);
  }
};

namespace {

constexpr size_t kErrorSize = 1024;

// Owns a buffer allocated inside the SentencePiece link namespace.
template <typename T>
struct ForeignBuffer {
  const SpmLibrary& lib;
  T* data = nullptr;
  ~ForeignBuffer() {
    if (data) lib.free_buffer(data);
  }
};

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(std::shared_ptr<Handle> handle) : handle_(std::move(handle)) {
  int unk = -1, bos = -1, eos = -1, pad = -1;
  handle_->lib->special_ids(handle_->processor, &unk, &bos, &eos, &pad);
  unk_id_ = unk;
  bos_id_ = bos;
  eos_id_ = eos;
  pad_id_ = pad;
  int64_t sep = piece_to_id(kSentenceSeparator);
  sep_id_ = (sep == unk_id_) ? -1 : sep;
}

SentencePieceTokenizer SentencePieceTokenizer::from_file(const std::string& path) {
  const SpmLibrary& lib = spm_library();
  char err[kErrorSize] = {0};
  spm_processor* processor = lib.load_from_file(path.c_str(), err, sizeof(err));
  if (processor == nullptr) throw std::runtime_error("cannot load tokenizer " + path + ": " + err);
  auto handle = std::make_shared<Handle>();
  handle->lib = &lib;
  handle->processor = processor;
  return SentencePieceTokenizer(std::move(handle));
}

SentencePieceTokenizer SentencePieceTokenizer::from_bytes(const std::string& bytes) {
  const SpmLibrary& lib = spm_library();
  char err[kErrorSize] = {0};
  spm_processor* processor = lib.load_from_serialized(bytes.data(), bytes.size(), err, sizeof(err));
  if (processor == nullptr) throw std::runtime_error(std::string("cannot load tokenizer from bytes: ") + err);
  auto handle = std::make_shared<Handle>();
  handle->lib = &lib;
  handle->processor = processor;
  return SentencePieceTokenizer(std::move(handle));
}

SentencePieceTokenizer SentencePieceTokenizer::train(const TokenizerTrainOptions& options) {
  if (options.input_files.empty()) throw std::invalid_argument("tokenizer training needs at least one input file");
  if (options.model_type != "unigram" && options.model_type != "bpe" && options.model_type != "word")
    throw std::invalid_argument("model type must be unigram, bpe or word, not " + options.model_type);
  std::string inputs;
  for (const auto& file : options.input_files) {
    if (file.find(',') != std::string::npos)
      throw std::invalid_argument("SentencePiece cannot read an input path containing ',': " + file);
    inputs += (inputs.empty() ? "" : ",") + file;
  }
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  std::vector<std::pair<std::string, std::string>> flags = {
      {"input", inputs},
      {"model_prefix", ""},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"model_type", options.model_type},
      {"character_coverage", std::to_string(options.character_coverage)},
      {"max_sentence_length", std::to_string(options.max_sentence_length)},
      {"input_sentence_size", std::to_string(options.input_sentence_size)},
      {"shuffle_input_sentence", "true"},
      {"num_threads", std::to_string(threads > 0 ? threads : 1)},
      {"random_seed", std::to_string(options.seed)},
      {"byte_fallback", options.byte_fallback ? "true" : "false"},
      {"pad_id", std::to_string(kPadId)},
      {"unk_id", std::to_string(kUnkId)},
      {"bos_id", std::to_string(kBosId)},
      {"eos_id", std::to_string(kEosId)},
      {"user_defined_symbols", kSentenceSeparator},
      {"minloglevel", options.verbose ? "0" : "1"},
  };
  std::vector<const char*> keys, values;
  for (const auto& [key, value] : flags) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  const SpmLibrary& lib = spm_library();
  char err[kErrorSize] = {0};
  ForeignBuffer<char> model{lib};
  size_t model_size = 0;
  if (lib.train(keys.data(), values.data(), keys.size(), &model.data, &model_size, err, sizeof(err)) != 0)
    throw std::runtime_error(std::string("tokenizer training failed: ") + err);
  std::string bytes(model.data, model_size);
  if (!options.output_path.empty()) write_file_atomically(options.output_path, bytes);
  return from_bytes(bytes);
}

std::vector<int64_t> SentencePieceTokenizer::encode(const std::string& text) const {
  const SpmLibrary& lib = *handle_->lib;
  char err[kErrorSize] = {0};
  ForeignBuffer<int32_t> ids{lib};
  size_t count = 0;
  if (lib.encode_ids(handle_->processor, text.data(), text.size(), &ids.data, &count, err, sizeof(err)) != 0)
    throw std::runtime_error(std::string("tokenizer encode failed: ") + err);
  return std::vector<int64_t>(ids.data, ids.data + count);
}

std::vector<int64_t> SentencePieceTokenizer::encode_sentences(const std::vector<std::string>& sentences) const {
  if (sep_id_ < 0 && sentences.size() > 1)
    throw std::runtime_error(
        "this tokenizer has no <sep> piece to mark sentence boundaries (retrain it with "
        "`pyramidion tokenizer train`, or give spm_train --user_defined_symbols=<sep>)");
  return encode_joined(sentences, sep_id_, [this](const std::string& sentence) { return encode(sentence); });
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids) const {
  return decode(ids.data(), ids.size());
}

std::string SentencePieceTokenizer::decode(const int64_t* ids, size_t count) const {
  const SpmLibrary& lib = *handle_->lib;
  const int64_t vocab = vocab_size();
  std::string text;
  std::vector<int32_t> chunk;
  // Each <sep>-delimited run is decoded on its own so SentencePiece's whitespace handling stays per sentence.
  auto flush = [&]() {
    char err[kErrorSize] = {0};
    ForeignBuffer<char> out{lib};
    size_t size = 0;
    if (lib.decode_ids(handle_->processor, chunk.data(), chunk.size(), &out.data, &size, err, sizeof(err)) != 0)
      throw std::runtime_error(std::string("tokenizer decode failed: ") + err);
    text.append(out.data, size);
    chunk.clear();
  };
  for (size_t i = 0; i < count; ++i) {
    int64_t id = ids[i];
    if (id < 0 || id >= vocab)
      throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(vocab));
    if (id == sep_id_) {
      flush();
      text += '\n';
    } else if (id != pad_id_ && id != bos_id_ && id != eos_id_) {
      chunk.push_back(static_cast<int32_t>(id));
    }
  }
  flush();
  return text;
}

std::vector<std::string> SentencePieceTokenizer::decode_sentences(const std::vector<int64_t>& ids) const {
  std::vector<std::string> sentences;
  std::string text = decode(ids);
  size_t start = 0;
  while (true) {
    size_t end = text.find('\n', start);
    sentences.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return sentences;
}

int64_t SentencePieceTokenizer::vocab_size() const { return handle_->lib->vocab_size(handle_->processor); }

std::string SentencePieceTokenizer::id_to_piece(int64_t id) const {
  const char* piece = nullptr;
  size_t size = 0;
  if (id < 0 || id > INT32_MAX ||
      handle_->lib->id_to_piece(handle_->processor, static_cast<int>(id), &piece, &size) != 0)
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                            std::to_string(vocab_size()));
  return std::string(piece, size);
}

int64_t SentencePieceTokenizer::piece_to_id(const std::string& piece) const {
  return handle_->lib->piece_to_id(handle_->processor, piece.data(), piece.size());
}

std::string SentencePieceTokenizer::serialized() const {
  const SpmLibrary& lib = *handle_->lib;
  char err[kErrorSize] = {0};
  ForeignBuffer<char> bytes{lib};
  size_t size = 0;
  if (lib.serialized_model(handle_->processor, &bytes.data, &size, err, sizeof(err)) != 0)
    throw std::runtime_error(std::string("cannot serialize tokenizer: ") + err);
  return std::string(bytes.data, size);
}

std::string sentencepiece_library_path() { return spm_library().path; }

uint64_t tokenizer_checksum(const std::string& serialized) {
  Checksum64 checksum;
  checksum.update(serialized.data(), serialized.size());
  return checksum.value();
}

std::string tokenizer_checksum_text(uint64_t checksum) {
  char text[32];
  std::snprintf(text, sizeof(text), "fnv1a64:%016llx", static_cast<unsigned long long>(checksum));
  return text;
}

}  // namespace pyramidion::data
