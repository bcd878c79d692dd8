#pragma once
// A GPT-2 byte-level BPE tokenizer as BART's files hold one (<s> <pad> </s> <unk>, the 256 byte pieces, merges that
// join some of the tiny model's words into several-byte pieces, <mask> last): the highlight view with an imported
// BART's kind of tokenizer.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/byte_level_pretokenizer.h"
#include "pyramidion/data/byte_level_bpe.h"

namespace pyramidion::testing {

inline data::ByteLevelBpeTokenizer tiny_bpe_tokenizer(const std::filesystem::path& dir) {
  std::vector<std::string> pieces = {"<s>", "<pad>", "</s>", "<unk>"};
  for (int b = 0; b < 256; ++b) pieces.push_back(data::byte_level_symbols()[b]);
  const std::string g = "\xC4\xA0";  // U+0120: the byte-level piece of " "
  const std::vector<std::pair<std::string, std::string>> merges = {
      {g, "a"},     {"l", "p"},      {"h", "a"},       {g + "a", "lp"},   {g + "alp", "ha"}, {g, "b"},
      {"r", "a"},   {g + "b", "ra"}, {"v", "o"},       {g + "bra", "vo"}, {"e", "c"},        {"h", "o"},
      {"ec", "ho"}, {g, "ec"},       {g + "ec", "ho"}, {"i", "n"},        {"d", "i"},        {"di", "a"}};
  std::string merges_txt = "#version: 0.2\n";
  for (const auto& [left, right] : merges) {
    merges_txt += left + " " + right + "\n";
    pieces.push_back(left + right);
  }
  pieces.push_back("<mask>");
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (size_t id = 0; id < pieces.size(); ++id)
    if (!vocab.contains(pieces[id])) vocab[pieces[id]] = id;
  std::ofstream(dir / "vocab.json") << vocab.dump();
  std::ofstream(dir / "merges.txt") << merges_txt;
  return data::ByteLevelBpeTokenizer::from_files((dir / "vocab.json").string(), (dir / "merges.txt").string());
}

}  // namespace pyramidion::testing
