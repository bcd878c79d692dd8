#pragma once
// PEGASUS's tokenizer: a SentencePiece model (spiece.model) whose ids are shifted by an offset, with added special
// tokens below it, as Hugging Face's PegasusTokenizer numbers them (offset 103):
//   0 <pad>, 1 </s>, 2 <mask_1>, 3 <mask_2>, 4..offset+1 <unk_2>..<unk_{offset-1}>,
//   SentencePiece piece i -> id i + offset (so <unk>, piece 2 of PEGASUS's model, is 105), vocab_size = pieces +
//   offset.
// The added tokens shadow the SentencePiece pieces they overlap (PEGASUS's <pad> and </s> control pieces, at
// offset and offset + 1, which encoding never produces). Same surface as SentencePieceTokenizer; the SentencePiece
// library runs isolated as it does there (data/tokenizer.h).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pyramidion::data {

class SentencePieceTokenizer;

class PegasusTokenizer {
 public:
  static constexpr int64_t kDefaultOffset = 103;

  // `spiece_model` = the bytes of spiece.model; the added tokens are PegasusTokenizer's defaults for `offset`
  // (mask_token_sent <mask_1>, mask_token <mask_2>, <unk_2>..<unk_{offset-1}>). offset must be at least 4.
  static PegasusTokenizer from_sentencepiece(const std::string& spiece_model, int64_t offset = kDefaultOffset);
  // `bytes` = serialized(): a one-line JSON header {"type":"pegasus_sentencepiece",...} and the spiece.model bytes.
  static PegasusTokenizer from_bytes(const std::string& bytes);
  // Whether `bytes` is in serialized()'s format (and not a SentencePiece model or another tokenizer's form).
  static bool is_serialized_form(const std::string& bytes);

  // Thread-safe. As PegasusTokenizer's tokenize + convert_tokens_to_ids: the added tokens and <unk> are matched as
  // whole strings in the text (longest first), the text between them is encoded by SentencePiece (ids + offset).
  // No EOS added.
  std::vector<int64_t> encode(const std::string& text) const;
  // Sentences joined by the separator id (the model's <n> piece, PEGASUS's newline symbol, else <sep>); with
  // neither, joined by a space and encoded as one text (the boundaries are lost).
  std::vector<int64_t> encode_sentences(const std::vector<std::string>& sentences) const;
  // As PegasusTokenizer's convert_tokens_to_string with pad and EOS skipped: runs of SentencePiece ids decoded by
  // SentencePiece, each added token and <unk> written as its text, the separator as "\n"; outer whitespace
  // stripped. Throws std::out_of_range on ids outside [0, vocab_size()).
  std::string decode(const std::vector<int64_t>& ids) const;
  std::string decode(const int64_t* ids, size_t count) const;
  std::vector<std::string> decode_sentences(const std::vector<int64_t>& ids) const;  // decode() split at "\n"

  int64_t vocab_size() const;  // SentencePiece pieces + offset
  int64_t pad_id() const { return 0; }
  int64_t bos_id() const { return -1; }  // PEGASUS has none (decoding starts from pad)
  int64_t eos_id() const { return 1; }
  int64_t unk_id() const { return unk_id_; }
  int64_t sentence_separator_id() const { return sep_id_; }  // -1 when the model has neither <n> nor <sep>
  std::string id_to_piece(int64_t id) const;                 // an added token's text, else the SentencePiece piece
  int64_t piece_to_id(const std::string& piece) const;       // unk_id() when absent
  int64_t offset() const;
  const std::vector<std::string>& added_tokens() const;  // by id, from 0

  // The spiece.model bytes, exactly as given (what `export --to hf` writes back).
  const std::string& sentencepiece_model() const;
  // The SentencePiece model itself (its own, unshifted ids).
  const SentencePieceTokenizer& sentencepiece() const;
  std::string serialized() const;

  struct State;

 private:
  explicit PegasusTokenizer(std::shared_ptr<const State> state);
  std::shared_ptr<const State> state_;
  int64_t unk_id_ = -1, sep_id_ = -1;
};

}  // namespace pyramidion::data
