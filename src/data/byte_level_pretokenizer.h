#pragma once
// GPT-2's byte-level pre-tokenization, the part of the BPE tokenizer that is not the merges: the regex split of
// text into words and the byte <-> printable character table vocab.json's pieces are written in.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pyramidion::data {

// Splits `text` as GPT-2's pattern does (HF tokenizers' ByteLevel pre-tokenizer, Oniguruma semantics):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Returns [begin, end) byte ranges that cover `text` without gaps. Ill-formed UTF-8 is not an error: each
// ill-formed subpart counts as one symbol character (U+FFFD) and keeps its bytes.
std::vector<std::pair<size_t, size_t>> gpt2_pre_tokenize(std::string_view text);

// bytes_to_unicode(): byte b -> the UTF-8 of the character that stands for it in vocabulary pieces
// (printable Latin-1 bytes stand for themselves, the others for U+0100 + n; ' ' is "Ġ", '\n' is "Ċ").
const std::array<std::string, 256>& byte_level_symbols();
// The inverse: the byte a character stands for, -1 for characters that stand for no byte.
int byte_level_byte(char32_t cp);

}  // namespace pyramidion::data
