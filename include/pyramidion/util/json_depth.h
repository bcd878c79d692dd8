#pragma once
// A nesting bound for JSON read from users: the parsers and the value's destructor recurse per level, so a line of
// a million '[' overflows the stack. Every reader checks a line with this before parsing it.
#include <cstddef>
#include <string_view>

namespace pyramidion {

// Deeper than any record this project reads or writes (arXiv/PubMed JSONL is 2 levels deep).
inline constexpr std::size_t kMaxJsonDepth = 64;

// The deepest nesting of arrays/objects in `text`, counting brackets outside strings; stops counting once past
// `limit` (returns limit + 1), so the scan is linear and cheap.
std::size_t json_nesting_depth(std::string_view text, std::size_t limit = kMaxJsonDepth);

// True when `text` nests no deeper than kMaxJsonDepth.
inline bool json_depth_ok(std::string_view text) { return json_nesting_depth(text) <= kMaxJsonDepth; }

// The message readers use: "JSON nested deeper than 64 levels".
const char* json_depth_message();

}  // namespace pyramidion
