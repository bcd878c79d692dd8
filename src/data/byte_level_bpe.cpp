#include "pyramidion/data/byte_level_bpe.h"

#include <cstring>
#include <functional>
#include <mutex>
#include <queue>
#include <stdexcept>

#include "byte_level_bpe_model.h"
#include "byte_level_pretokenizer.h"
#include "unicode_classes.h"
#include "utf8_text.h"

namespace pyramidion::data {

namespace {

using Model = ByteLevelBpeTokenizer::Model;

constexpr size_t kCacheEntries = 20000;  // words; cleared whole when full (cheap, and text repeats its words)
constexpr size_t kMaxCachedWord = 256;   // bytes; longer words are rare and would crowd the cache

// Byte length of the whitespace character that ends at `end` (not before `limit`), 0 when there is none.
size_t whitespace_before(const std::string& text, size_t limit, size_t end) {
  for (size_t length = 1; length <= 3 && length <= end - limit; ++length) {
    auto cps = utf8_code_points(text.substr(end - length, length));
    if (cps.size() == 1 && cps[0].value != 0xFFFD) return is_unicode_whitespace(cps[0].value) ? length : 0;
  }
  return 0;
}

// Byte length of the whitespace character that starts at `begin`, 0 when there is none.
size_t whitespace_after(const std::string& text, size_t begin) {
  auto cps = utf8_code_points(text.substr(begin, 4));
  return !cps.empty() && is_unicode_whitespace(cps[0].value) ? cps[0].length : 0;
}

// Merges one word's symbols (single-byte pieces) lowest rank first, leftmost first among equal ranks: HF
// tokenizers' Word::merge_all, which equals GPT-2's "merge every occurrence of the best pair" for merges
// lists where a merged piece's merges come after the merge that made it (any trained list).
std::vector<int32_t> merge_word(const Model& m, const std::string& word) {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  struct Candidate {
    int32_t rank, pos, merged;
    bool operator>(const Candidate& other) const { return rank != other.rank ? rank > other.rank : pos > other.pos; }
  };
  const int32_t n = static_cast<int32_t>(word.size());
  std::vector<Symbol> symbols(n);
  for (int32_t i = 0; i < n; ++i)
    symbols[i] = {m.byte_ids[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1, true};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int32_t pos) {
    int32_t next = symbols[pos].next;
    if (next < 0) return;
    auto it = m.merges.find(Model::pair_key(symbols[pos].id, symbols[next].id));
    if (it != m.merges.end()) queue.push({it->second.rank, pos, it->second.merged});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    // Stale when either side was merged since the candidate was queued.
    auto it = m.merges.find(Model::pair_key(left.id, symbols[left.next].id));
    if (it == m.merges.end() || it->second.merged != top.merged) continue;
    Symbol& right = symbols[left.next];
    right.alive = false;
    left.id = top.merged;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  std::vector<int32_t> ids;
  for (int32_t i = 0; i >= 0 && i < n; i = symbols[i].next) ids.push_back(symbols[i].id);
  return ids;
}

void encode_word(const Model& m, const std::string& word, std::vector<int64_t>& out) {
  if (m.ignore_merges) {
    std::string piece;
    for (unsigned char c : word) piece += byte_level_symbols()[c];
    auto it = m.ids.find(piece);
    if (it != m.ids.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWord;
  if (cacheable) {
    std::shared_lock lock(m.cache_mutex);
    auto it = m.cache.find(word);
    if (it != m.cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids = merge_word(m, word);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::unique_lock lock(m.cache_mutex);
    if (m.cache.size() >= kCacheEntries) m.cache.clear();
    m.cache.emplace(word, std::move(ids));
  }
}

// Text between added tokens: pre-tokenized, then each word merged.
void encode_segment(const Model& m, std::string segment, std::vector<int64_t>& out) {
  if (segment.empty()) return;
  if (m.add_prefix_space && segment[0] != ' ') segment.insert(segment.begin(), ' ');
  for (auto [begin, end] : gpt2_pre_tokenize(segment)) encode_word(m, segment.substr(begin, end - begin), out);
}

}  // namespace

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(std::shared_ptr<Model> model) : model_(std::move(model)) {
  pad_id_ = model_->pad;
  bos_id_ = model_->bos;
  eos_id_ = model_->eos;
  unk_id_ = model_->unk;
}

std::vector<int64_t> ByteLevelBpeTokenizer::encode(const std::string& text) const {
  const Model& m = *model_;
  std::vector<int64_t> ids;
  size_t segment_start = 0;  // text not yet encoded starts here
  size_t pos = 0;
  while (pos < text.size()) {
    // Added tokens: the longest one starting at the leftmost position where any starts (HF: leftmost-longest).
    const Model::AddedToken* found = nullptr;
    for (const auto& token : m.added)
      if (token.content.size() <= text.size() - pos && (!found || token.content.size() > found->content.size()) &&
          std::memcmp(text.data() + pos, token.content.data(), token.content.size()) == 0)
        found = &token;
    if (!found) {
      ++pos;
      continue;
    }
    size_t begin = pos, end = pos + found->content.size();
    // lstrip/rstrip: the token also takes the whitespace around it, which then encodes to nothing.
    if (found->lstrip)
      while (size_t length = whitespace_before(text, segment_start, begin)) begin -= length;
    if (found->rstrip)
      while (size_t length = end < text.size() ? whitespace_after(text, end) : 0) end += length;
    encode_segment(m, text.substr(segment_start, begin - segment_start), ids);
    ids.push_back(found->id);
    segment_start = pos = end;
  }
  encode_segment(m, text.substr(segment_start), ids);
  return ids;
}

std::vector<int64_t> ByteLevelBpeTokenizer::encode_sentences(const std::vector<std::string>& sentences) const {
  std::string text;
  for (size_t i = 0; i < sentences.size(); ++i) {
    if (i > 0) text += '\n';
    text += sentences[i];
  }
  return encode(text);
}

std::string ByteLevelBpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  return decode(ids.data(), ids.size());
}

std::string ByteLevelBpeTokenizer::decode(const int64_t* ids, size_t count) const {
  const Model& m = *model_;
  const int64_t vocab = vocab_size();
  std::string bytes;
  for (size_t i = 0; i < count; ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= vocab)
      throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(vocab));
    if (id == pad_id_ || id == bos_id_ || id == eos_id_) continue;
    const std::string& piece = m.pieces[id];
    if (m.is_added[id]) {
      bytes += piece;
      continue;
    }
    // A piece that is not all byte symbols is its own text (HF's ByteLevel decoder does the same).
    std::string piece_bytes;
    bool symbols_only = true;
    for (const CodePoint& cp : utf8_code_points(piece)) {
      int byte = byte_level_byte(cp.value);
      if (byte < 0) {
        symbols_only = false;
        break;
      }
      piece_bytes += static_cast<char>(byte);
    }
    bytes += symbols_only ? piece_bytes : piece;
  }
  return utf8_lossy(bytes);
}

std::vector<std::string> ByteLevelBpeTokenizer::decode_sentences(const std::vector<int64_t>& ids) const {
  std::vector<std::string> sentences;
  const std::string text = decode(ids);
  size_t start = 0;
  while (true) {
    size_t end = text.find('\n', start);
    sentences.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return sentences;
}

int64_t ByteLevelBpeTokenizer::vocab_size() const { return static_cast<int64_t>(model_->pieces.size()); }

std::string ByteLevelBpeTokenizer::id_to_piece(int64_t id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                            std::to_string(vocab_size()));
  return model_->pieces[id];
}

int64_t ByteLevelBpeTokenizer::piece_to_id(const std::string& piece) const {
  auto it = model_->ids.find(piece);
  return it == model_->ids.end() ? unk_id_ : it->second;
}

}  // namespace pyramidion::data
