#include <stdexcept>

#include "byte_level_bpe_model.h"
#include "byte_level_pretokenizer.h"

namespace pyramidion::data {

namespace {

// Ids index a vector: a typo such as 5026400 must not allocate gigabytes. BART's largest is 50264.
constexpr int64_t kMaxId = (int64_t{1} << 24) - 1;

std::string shown(const std::string& piece) {
  std::string out = "\"";
  for (unsigned char c : piece) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

ByteLevelBpeLoader::ByteLevelBpeLoader(std::string origin_)
    : origin(std::move(origin_)), model(std::make_shared<ByteLevelBpeTokenizer::Model>()) {}

void ByteLevelBpeLoader::add_piece(const std::string& piece, int64_t id, const std::string& where) {
  if (id < 0 || id > kMaxId)
    throw std::runtime_error(origin + ": " + where + ": piece " + shown(piece) + " has id " + std::to_string(id) +
                             ", outside [0, " + std::to_string(kMaxId) + "]");
  if (piece.empty())
    throw std::runtime_error(origin + ": " + where + ": an empty piece (id " + std::to_string(id) + ")");
  auto& m = *model;
  if (static_cast<size_t>(id) >= m.pieces.size()) m.pieces.resize(id + 1);
  if (!m.pieces[id].empty() && m.pieces[id] != piece)
    throw std::runtime_error(origin + ": " + where + ": id " + std::to_string(id) + " is given to both " +
                             shown(m.pieces[id]) + " and " + shown(piece));
  auto [it, inserted] = m.ids.emplace(piece, static_cast<int32_t>(id));
  if (!inserted && it->second != id)
    throw std::runtime_error(origin + ": " + where + ": piece " + shown(piece) + " has two ids, " +
                             std::to_string(it->second) + " and " + std::to_string(id));
  m.pieces[id] = piece;
}

int32_t ByteLevelBpeLoader::id_of(const std::string& piece, const std::string& where) const {
  auto it = model->ids.find(piece);
  if (it == model->ids.end())
    throw std::runtime_error(origin + ": " + where + ": merge piece " + shown(piece) + " is not in the vocabulary");
  return it->second;
}

void ByteLevelBpeLoader::add_merge(const std::string& left, const std::string& right, const std::string& where) {
  auto& m = *model;
  const int32_t a = id_of(left, where), b = id_of(right, where), merged = id_of(left + right, where);
  const int32_t rank = static_cast<int32_t>(m.merge_pairs.size());
  m.merge_pairs.emplace_back(a, b);
  // A repeated pair takes its later rank, as HF tokenizers' map insertion does.
  m.merges[ByteLevelBpeTokenizer::Model::pair_key(a, b)] = {rank, merged};
}

void ByteLevelBpeLoader::add_token(const std::string& content, int64_t id, bool lstrip, bool rstrip,
                                   const std::string& where) {
  add_piece(content, id, where);
  auto& m = *model;
  for (auto& token : m.added)
    if (token.id == id) {  // listed twice: the last flags win
      token.lstrip = lstrip;
      token.rstrip = rstrip;
      return;
    }
  m.added.push_back({content, static_cast<int32_t>(id), lstrip, rstrip});
}

void ByteLevelBpeLoader::add_conventional_special_tokens() {
  for (const char* piece : {"<s>", "<pad>", "</s>", "<unk>", "<mask>", "<|endoftext|>"}) {
    auto it = model->ids.find(piece);
    if (it != model->ids.end())
      add_token(piece, it->second, /*lstrip=*/std::string(piece) == "<mask>", /*rstrip=*/false, "special tokens");
  }
}

void ByteLevelBpeLoader::find_special_ids(const std::string& unk_piece) {
  auto& m = *model;
  auto find = [&](const char* piece) -> int64_t {
    auto it = m.ids.find(piece);
    return it == m.ids.end() ? -1 : it->second;
  };
  m.bos = find("<s>");
  m.eos = find("</s>");
  m.pad = find("<pad>");
  m.unk = unk_piece.empty() ? find("<unk>") : find(unk_piece.c_str());
  // GPT-2: one piece ends (and starts) every text and stands for unknowns.
  int64_t endoftext = find("<|endoftext|>");
  if (m.bos < 0) m.bos = endoftext;
  if (m.eos < 0) m.eos = endoftext;
  if (m.unk < 0) m.unk = endoftext;
}

ByteLevelBpeTokenizer ByteLevelBpeLoader::finish() {
  auto& m = *model;
  const auto& symbols = byte_level_symbols();
  for (int b = 0; b < 256; ++b) {
    auto it = m.ids.find(symbols[b]);
    if (it == m.ids.end())
      throw std::runtime_error(origin + ": the vocabulary has no piece " + shown(symbols[b]) + " for byte " +
                               std::to_string(b) + " (a byte-level BPE vocabulary has all 256)");
    m.byte_ids[b] = it->second;
  }
  m.is_added.assign(m.pieces.size(), false);
  for (const auto& token : m.added) m.is_added[token.id] = true;
  return ByteLevelBpeTokenizer(model);
}

}  // namespace pyramidion::data
