#pragma once
// The byte-level BPE tokenizer's tables, and the builder every loader (vocab.json + merges.txt, tokenizer.json,
// serialized form) fills them through, so that they validate the same way.
#include <array>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pyramidion/data/byte_level_bpe.h"

namespace pyramidion::data {

struct ByteLevelBpeTokenizer::Model {
  struct AddedToken {
    std::string content;  // raw text, matched whole before pre-tokenization
    int32_t id;
    bool lstrip, rstrip;  // the match also takes the whitespace before / after it
  };
  struct Merge {
    int32_t rank, merged;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }

  std::vector<std::string> pieces;  // id -> piece; "" for ids without one
  std::unordered_map<std::string, int32_t> ids;
  std::vector<std::pair<int32_t, int32_t>> merge_pairs;  // by rank
  std::unordered_map<uint64_t, Merge> merges;            // pair_key(left, right) -> rank, merged piece
  std::array<int32_t, 256> byte_ids{};                   // the piece of each single byte
  std::vector<AddedToken> added;
  std::vector<bool> is_added;  // by id
  bool add_prefix_space = false;
  bool ignore_merges = false;  // a word that is a piece as a whole is that piece (Llama-3 style tokenizer.json)
  int64_t pad = -1, bos = -1, eos = -1, unk = -1;

  // Words already split (raw bytes -> ids). Guarded: encode runs concurrently.
  mutable std::shared_mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;
};

// Fills a Model; every error is a std::runtime_error starting with `origin` (a file path) and naming the entry.
struct ByteLevelBpeLoader {
  explicit ByteLevelBpeLoader(std::string origin);

  // Pieces first, then merges (they refer to pieces), then added tokens.
  void add_piece(const std::string& piece, int64_t id, const std::string& where);
  void add_merge(const std::string& left, const std::string& right, const std::string& where);
  void add_token(const std::string& content, int64_t id, bool lstrip, bool rstrip, const std::string& where);
  // BART's/GPT-2's special pieces, where the vocabulary has them, as added tokens (<mask> with lstrip).
  void add_conventional_special_tokens();
  // Special ids by BART's/GPT-2's piece names; `unk_piece`, when given, names the unknown piece instead.
  void find_special_ids(const std::string& unk_piece = "");
  ByteLevelBpeTokenizer finish();  // checks that every byte has a piece

  std::string origin;
  std::shared_ptr<ByteLevelBpeTokenizer::Model> model;

 private:
  int32_t id_of(const std::string& piece, const std::string& where) const;
};

}  // namespace pyramidion::data
