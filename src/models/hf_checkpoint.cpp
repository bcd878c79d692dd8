#include "pyramidion/models/hf_checkpoint.h"

#include <torch/serialize.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "pyramidion/util/safetensors.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;

std::string existing(const fs::path& path) { return fs::is_regular_file(path) ? path.string() : std::string(); }

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

NamedTensors tensors_of(const c10::IValue& value, const std::string& path) {
  if (!value.isGenericDict()) throw std::runtime_error(path + ": not a state dict (the pickle holds a " + value.tagKind() + ")");
  NamedTensors out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString()) throw std::runtime_error(path + ": a state dict key is not a string");
    const std::string name = item.key().toStringRef();
    if (!item.value().isTensor())
      throw std::runtime_error(path + ": " + name + " is not a tensor (" + item.value().tagKind() + ")");
    out.emplace_back(name, item.value().toTensor());
  }
  return out;
}

}  // namespace

HfCheckpointFiles find_hf_checkpoint_files(const std::string& dir) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw std::runtime_error(dir + ": not a directory (expected a Hugging Face checkpoint folder)");
  HfCheckpointFiles f;
  f.config = existing(root / "config.json");
  if (f.config.empty()) throw std::runtime_error((root / "config.json").string() + ": missing");
  f.weights = existing(root / "model.safetensors");
  if (f.weights.empty()) f.weights = existing(root / "pytorch_model.bin");
  if (f.weights.empty()) {
    for (const char* index : {"model.safetensors.index.json", "pytorch_model.bin.index.json"})
      if (fs::exists(root / index))
        throw std::runtime_error((root / index).string() + ": sharded checkpoints are not supported (one weights file)");
    throw std::runtime_error(dir + ": no weights (model.safetensors or pytorch_model.bin)");
  }
  f.sentencepiece = existing(root / "spiece.model");
  f.vocab_json = existing(root / "vocab.json");
  f.merges_txt = existing(root / "merges.txt");
  f.tokenizer_json = existing(root / "tokenizer.json");
  return f;
}

NamedTensors read_checkpoint_tensors(const std::string& path, const std::string& entry) {
  if (ends_with(path, ".safetensors")) return read_safetensors(path).tensors;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the file");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K')
    throw std::runtime_error(path + ": not a torch.save zip archive (legacy or foreign format; re-save it with "
                                    "PyTorch >= 1.6, or as safetensors)");
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw std::runtime_error(path + ": cannot read the torch.save archive (" + what + ")");
  }
  if (!entry.empty()) {
    if (!value.isGenericDict()) throw std::runtime_error(path + ": not a dict (expected the key '" + entry + "')");
    auto dict = value.toGenericDict();
    auto it = dict.find(c10::IValue(entry));
    if (it == dict.end()) throw std::runtime_error(path + ": no '" + entry + "' entry");
    value = it->value();
  }
  return tensors_of(value, path);
}

}  // namespace pyramidion
