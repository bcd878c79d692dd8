#pragma once
// A tokenizer of either kind a model file can embed: SentencePiece (models trained here, PEGASUS) or GPT-2
// byte-level BPE (BART). What the Summarizer, `data prepare`'s encoding and the highlight view use, whatever
// the kind. Cheap to copy (shares the loaded tables); thread-safe as the tokenizers it holds are.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pyramidion/data/byte_level_bpe.h"
#include "pyramidion/data/tokenizer.h"

namespace pyramidion::data {

class Tokenizer {
 public:
  Tokenizer(SentencePieceTokenizer tokenizer);  // NOLINT(google-explicit-constructor): either kind converts
  Tokenizer(ByteLevelBpeTokenizer tokenizer);   // NOLINT(google-explicit-constructor)
  // `bytes` = what serialized() gives (a model file's embedded tokenizer): ByteLevelBpeTokenizer's JSON form
  // (ByteLevelBpeTokenizer::is_serialized_form) or a SentencePiece model.
  static Tokenizer from_bytes(const std::string& bytes);
  // A tokenizer file: a SentencePiece .model; a Hugging Face tokenizer.json (byte-level BPE); a vocab.json with
  // merges.txt beside it; a serialized byte-level BPE tokenizer (a dataset's byte_level_bpe.json); or a folder
  // holding tokenizer.json, else vocab.json + merges.txt. Errors name `path`.
  static Tokenizer from_file(const std::string& path);

  // "sentencepiece" or "byte_level_bpe".
  const char* kind() const;
  // The tokenizer held; throws std::logic_error when it is of the other kind.
  const SentencePieceTokenizer& sentencepiece() const;
  const ByteLevelBpeTokenizer& byte_level_bpe() const;
  bool is_sentencepiece() const { return spm_ != nullptr; }

  // As SentencePieceTokenizer's and ByteLevelBpeTokenizer's (no BOS/EOS added by encode).
  std::vector<int64_t> encode(const std::string& text) const;
  std::vector<int64_t> encode_sentences(const std::vector<std::string>& sentences) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  std::string decode(const int64_t* ids, size_t count) const;
  std::vector<std::string> decode_sentences(const std::vector<int64_t>& ids) const;

  int64_t vocab_size() const;
  int64_t pad_id() const;
  int64_t bos_id() const;
  int64_t eos_id() const;
  int64_t unk_id() const;
  int64_t sentence_separator_id() const;  // -1 when absent (always for byte-level BPE)
  std::string id_to_piece(int64_t id) const;
  int64_t piece_to_id(const std::string& piece) const;
  // The bytes from_bytes takes; tokenizer_checksum() is computed over them.
  std::string serialized() const;

 private:
  std::shared_ptr<const SentencePieceTokenizer> spm_;
  std::shared_ptr<const ByteLevelBpeTokenizer> bpe_;
};

// The special ids a tokenizer must have to train a model with: a pad piece and an EOS piece (BOS may be absent: the
// decoder then starts from EOS, as fairseq's does). Throws std::runtime_error naming `origin` and saying how to fix
// the tokenizer.
void check_tokenizer_for_training(const Tokenizer& tokenizer, const std::string& origin);

}  // namespace pyramidion::data
