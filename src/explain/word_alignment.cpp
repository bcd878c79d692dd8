#include "word_alignment.h"

#include <algorithm>

#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/util/text_predicates.h"

namespace pyramidion::explain {
namespace {

using PieceRole = data::Tokenizer::PieceRole;

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    size_t j = i;
    while (j < text.size() && !is_space(text[j])) ++j;
    if (j > i) words.push_back(text.substr(i, j - i));
    i = j;
  }
  return words;
}

// SentencePiece and byte-level BPE segment each whitespace-separated word on its own, so the document's pieces are
// the words' pieces one after the other: encoding word by word (Tokenizer::encode_word: with the space before it
// where the tokenizer keeps it in the piece) aligns them (unknown words included). Checked id by id; false when the
// normalizer breaks it. Words past the cut keep no tokens.
bool align_text_words(const data::Tokenizer& tokenizer, const std::vector<std::string>& sentences,
                      const std::vector<int64_t>& ids, std::vector<HighlightWord>& words,
                      std::vector<std::vector<int64_t>>& word_tokens) {
  for (size_t s = 0; s < sentences.size(); ++s)
    for (auto& text : split_words(sentences[s])) {
      HighlightWord w;
      w.text = std::move(text);
      w.sentence = static_cast<int64_t>(s);
      words.push_back(std::move(w));
    }
  const int64_t real = static_cast<int64_t>(ids.size()) - 1;  // tokens before EOS
  int64_t t = 0;
  for (const auto& word : words) {
    word_tokens.emplace_back();
    for (int64_t id : tokenizer.encode_word(word.text, word_tokens.size() == 1)) {
      if (t >= real) break;  // cut at max_source_positions
      if (ids[static_cast<size_t>(t)] != id) return false;
      word_tokens.back().push_back(t++);
    }
  }
  return t == real;
}

// Words rebuilt from the pieces (group_tokens), sentences split by the text rule and at separators.
void rebuild_words(const data::Tokenizer& tokenizer, const std::vector<int64_t>& ids, std::vector<HighlightWord>& words,
                   std::vector<std::vector<int64_t>>& word_tokens, std::vector<std::string>& sentences) {
  TokenGroups groups = group_tokens(tokenizer, ids, ids.size());
  int64_t sentence = 0;
  size_t next_break = 0;
  bool open = false;
  for (size_t i = 0; i < groups.groups.size(); ++i) {
    if (next_break < groups.sentence_breaks.size() && groups.sentence_breaks[next_break] == static_cast<int64_t>(i)) {
      ++next_break;
      if (open) ++sentence;
      open = false;
    }
    HighlightWord w;
    w.text = decode_group(tokenizer, ids, groups.groups[i]);
    w.sentence = sentence;
    open = true;
    if (ends_sentence(w.text)) {
      ++sentence;
      open = false;
    }
    words.push_back(std::move(w));
  }
  sentences.assign(static_cast<size_t>(sentence + (open ? 1 : 0)), "");
  for (const auto& w : words) {
    auto& s = sentences[static_cast<size_t>(w.sentence)];
    s += (s.empty() ? "" : " ") + w.text;
  }
  word_tokens = std::move(groups.groups);
}

}  // namespace

bool ends_sentence(const std::string& word) {
  size_t end = word.size();
  while (end > 0 && (word[end - 1] == '"' || word[end - 1] == '\'' || word[end - 1] == ')' || word[end - 1] == ']'))
    --end;
  return end > 0 && (word[end - 1] == '.' || word[end - 1] == '!' || word[end - 1] == '?');
}

TokenGroups group_tokens(const data::Tokenizer& tokenizer, const std::vector<int64_t>& ids, size_t count) {
  TokenGroups g;
  bool after_separator = true;
  bool blank_group = false;  // the open group holds only whitespace pieces so far: the next word's pieces join it
  for (size_t t = 0; t < count; ++t) {
    const PieceRole role = tokenizer.piece_role(ids[t]);
    if (role == PieceRole::line_break) {
      after_separator = true;
      if (!g.groups.empty()) g.sentence_breaks.push_back(static_cast<int64_t>(g.groups.size()));
      continue;
    }
    if (role == PieceRole::special) continue;
    const bool starts = role == PieceRole::word_start || role == PieceRole::space;
    if (after_separator || g.groups.empty() || (starts && !blank_group)) {
      g.groups.emplace_back();
      blank_group = true;
    }
    blank_group = blank_group && role == PieceRole::space;
    after_separator = false;
    g.groups.back().push_back(static_cast<int64_t>(t));
  }
  return g;
}

std::string decode_group(const data::Tokenizer& tokenizer, const std::vector<int64_t>& ids,
                         const std::vector<int64_t>& positions) {
  std::vector<int64_t> group;
  for (int64_t p : positions) group.push_back(ids[static_cast<size_t>(p)]);
  std::string text = tokenizer.decode(group);
  const size_t a = text.find_first_not_of(" \t\r\f\v"), b = text.find_last_not_of(" \t\r\f\v");
  return a == std::string::npos ? text : text.substr(a, b - a + 1);
}

WordAlignment align_words(const data::Tokenizer& tokenizer, const std::vector<std::string>& sentences,
                          const std::vector<int64_t>& ids) {
  WordAlignment a;
  std::vector<std::vector<int64_t>> word_tokens;  // token positions per word
  a.aligned = align_text_words(tokenizer, sentences, ids, a.words, word_tokens);
  if (a.aligned) {
    a.sentences = sentences;
  } else {
    a.words.clear();
    rebuild_words(tokenizer, ids, a.words, word_tokens, a.sentences);
  }
  a.token_word.assign(ids.size(), -1);
  for (size_t i = 0; i < a.words.size(); ++i) {
    if (i >= word_tokens.size() || word_tokens[i].empty()) continue;  // never read (or no piece at all)
    a.words[i].first_token = word_tokens[i].front();
    a.words[i].tokens = static_cast<int64_t>(word_tokens[i].size());
    for (int64_t t : word_tokens[i]) a.token_word[static_cast<size_t>(t)] = static_cast<int64_t>(i);
  }
  return a;
}

}  // namespace pyramidion::explain
