#pragma once
// GPT-2 byte-level BPE tokenizer: the tokenizer of BART, RoBERTa and GPT-2 checkpoints (Hugging Face
// vocab.json + merges.txt, or tokenizer.json), with the same surface as SentencePieceTokenizer where the two
// agree. Encodes exactly as HF tokenizers does (its ByteLevel pre-tokenizer and BPE model): GPT-2's regex over
// Unicode letters/numbers, bytes written as printable characters, merges applied lowest rank first; added
// tokens (<s>, <mask>, ...) are matched as whole strings before that. Self-contained: no ICU, no torch.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pyramidion::data {

class ByteLevelBpeTokenizer {
 public:
  // vocab.json (piece -> id) and merges.txt ("a b" per line, an optional "#version" line), as BART's slow
  // tokenizer reads them. The pieces <s> <pad> </s> <unk> <mask> <|endoftext|>, where present, become special
  // tokens matched whole in text; <mask> also takes the spaces before it (lstrip), as BartTokenizer's does.
  static ByteLevelBpeTokenizer from_files(const std::string& vocab_json_path, const std::string& merges_txt_path);
  // HF tokenizers' tokenizer.json with a BPE model and a ByteLevel pre-tokenizer (anything else: an
  // "unsupported ..." error). added_tokens keep their lstrip/rstrip; the post-processor is not applied
  // (encode adds no BOS/EOS, as with SentencePieceTokenizer).
  static ByteLevelBpeTokenizer from_tokenizer_json(const std::string& path);
  // `bytes` = serialized(): a JSON object {"type":"byte_level_bpe",...} a model file can embed.
  static ByteLevelBpeTokenizer from_bytes(const std::string& bytes);
  // Whether `bytes` is in serialized()'s format (and not, e.g., a SentencePiece model). Does not validate it.
  static bool is_serialized_form(const std::string& bytes);

  // Thread-safe: encode/decode may run concurrently on one tokenizer (the merge cache is locked).
  std::vector<int64_t> encode(const std::string& text) const;  // no BOS/EOS added
  // There is no <sep> piece in BART's vocabulary: sentences are joined with "\n" and encoded as one text
  // (encode(a + "\n" + b)), so decode gives them back one per line, as the <sep> of SentencePieceTokenizer does.
  std::vector<int64_t> encode_sentences(const std::vector<std::string>& sentences) const;
  // Drops pad/bos/eos; other special tokens (<mask>, <unk>) decode to their text. Bytes that do not form
  // UTF-8 (a sequence cut inside a character) become U+FFFD, as HF's decoder does. Throws std::out_of_range
  // on ids outside [0, vocab_size()); ids inside it that have no piece decode to nothing.
  std::string decode(const std::vector<int64_t>& ids) const;
  std::string decode(const int64_t* ids, size_t count) const;
  std::vector<std::string> decode_sentences(const std::vector<int64_t>& ids) const;  // decode() split at "\n"

  int64_t vocab_size() const;  // highest id + 1
  // -1 when absent. BART: <s> 0, <pad> 1, </s> 2, <unk> 3; GPT-2: <|endoftext|> is bos, eos and unk.
  int64_t pad_id() const { return pad_id_; }
  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t unk_id() const { return unk_id_; }
  int64_t sentence_separator_id() const { return -1; }  // see encode_sentences
  // The vocabulary piece (bytes written as GPT-2's printable characters: " the" is "Ġthe"); "" for an id
  // without a piece. Throws std::out_of_range outside [0, vocab_size()).
  std::string id_to_piece(int64_t id) const;
  int64_t piece_to_id(const std::string& piece) const;  // unk_id() when absent

  std::string serialized() const;

  struct Model;  // the tables, opaque here (src/data/byte_level_bpe_model.h)

 private:
  explicit ByteLevelBpeTokenizer(std::shared_ptr<Model> model);
  friend struct ByteLevelBpeLoader;
  std::shared_ptr<Model> model_;
  int64_t pad_id_ = -1, bos_id_ = -1, eos_id_ = -1, unk_id_ = -1;
};

}  // namespace pyramidion::data
