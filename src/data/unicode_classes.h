#pragma once
// Unicode character classes the GPT-2 pre-tokenizer regex uses (\p{L}, \p{N}, \s), from a generated table
// (scripts/gen_unicode_classes.py) rather than ICU: one less library for a few kilobytes of ranges.

namespace pyramidion::data {

bool is_unicode_letter(char32_t cp);      // \p{L}
bool is_unicode_number(char32_t cp);      // \p{N}
bool is_unicode_whitespace(char32_t cp);  // \s as Oniguruma (HF tokenizers' regex engine) reads it
const char* unicode_classes_version();    // the Unicode version the tables come from, e.g. "14.0.0"

}  // namespace pyramidion::data
