#pragma once
// SentencePiece tokenizer. SentencePiece itself runs inside libpyramidion_spm.so, loaded with dlmopen into
// its own link namespace (its bundled protobuf clashes with LibTorch's), so this header and every process
// linking pyramidion stay free of it. Found at: $PYRAMIDION_SPM_LIB, beside the running executable, ../lib
// from it, the install libdir, then beside libpyramidion.so.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pyramidion::data {

// Special ids fixed at training time (tokenizers trained elsewhere may differ: use the accessors).
inline constexpr int64_t kPadId = 0;
inline constexpr int64_t kUnkId = 1;
inline constexpr int64_t kBosId = 2;
inline constexpr int64_t kEosId = 3;
// Sentence boundary inside summaries (ROUGE-Lsum, sentence-level output); decodes to "\n".
inline constexpr const char* kSentenceSeparator = "<sep>";

struct TokenizerTrainOptions {
  std::vector<std::string> input_files;  // plain text, one sentence per line
  std::string output_path;               // the .model file, written atomically; "" = only return the bytes
  int vocab_size = 8000;
  std::string model_type = "unigram";  // unigram, bpe or word
  double character_coverage = 0.9995;
  int max_sentence_length = 8192;         // bytes; longer lines are skipped by SentencePiece
  int64_t input_sentence_size = 2000000;  // sentences sampled for training; 0 = all
  int threads = 0;                        // 0 = hardware threads
  int seed = 17;
  bool byte_fallback = false;  // unknown characters as UTF-8 bytes instead of <unk>
  bool verbose = false;        // SentencePiece's own training log on stderr
};

class SentencePieceTokenizer {
 public:
  static SentencePieceTokenizer from_file(const std::string& path);
  // `bytes` = a serialized model (the content of a .model file), e.g. embedded in a checkpoint.
  static SentencePieceTokenizer from_bytes(const std::string& bytes);
  // Trains, writes options.output_path (if set) and returns the loaded tokenizer.
  static SentencePieceTokenizer train(const TokenizerTrainOptions& options);

  // Thread-safe: encode/decode may run concurrently on one tokenizer.
  std::vector<int64_t> encode(const std::string& text) const;  // no BOS/EOS added
  // Sentences joined by the <sep> id; no BOS/EOS added.
  std::vector<int64_t> encode_sentences(const std::vector<std::string>& sentences) const;
  // Drops pad/bos/eos, turns <sep> into "\n". Throws on ids outside the vocabulary.
  std::string decode(const std::vector<int64_t>& ids) const;
  std::string decode(const int64_t* ids, size_t count) const;
  std::vector<std::string> decode_sentences(const std::vector<int64_t>& ids) const;

  int64_t vocab_size() const;
  int64_t pad_id() const { return pad_id_; }
  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t unk_id() const { return unk_id_; }
  // -1 when the model has no <sep> piece.
  int64_t sentence_separator_id() const { return sep_id_; }
  std::string id_to_piece(int64_t id) const;
  int64_t piece_to_id(const std::string& piece) const;  // unk_id() when absent

  // The serialized model: what from_bytes takes.
  std::string serialized() const;

 private:
  struct Handle;
  explicit SentencePieceTokenizer(std::shared_ptr<Handle> handle);
  std::shared_ptr<Handle> handle_;
  int64_t pad_id_ = -1, bos_id_ = -1, eos_id_ = -1, unk_id_ = -1, sep_id_ = -1;
};

// FNV-1a-64 of a serialized tokenizer model (SentencePieceTokenizer::serialized(), the bytes of a .model file).
// Stored in datasets, checkpoints and model files: a tokenizer with the same vocabulary size but other pieces has
// another checksum. tokenizer_checksum_text: "fnv1a64:<16 hex digits>".
uint64_t tokenizer_checksum(const std::string& serialized);
std::string tokenizer_checksum_text(uint64_t checksum);

// check_tokenizer_for_training (data/any_tokenizer.h) checks the special ids training needs, for either kind.

// Where libpyramidion_spm.so was loaded from (loads it on first use). Throws when it cannot be found.
std::string sentencepiece_library_path();

}  // namespace pyramidion::data
