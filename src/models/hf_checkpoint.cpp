#include "pyramidion/models/hf_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "pyramidion/models/torch_save_reader.h"
#include "pyramidion/util/safetensors.h"
#include "pyramidion/util/text_predicates.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;

std::string existing(const fs::path& path) { return fs::is_regular_file(path) ? path.string() : std::string(); }

}  // namespace

HfCheckpointFiles find_hf_checkpoint_files(const std::string& dir) {
  const fs::path root(dir);
  if (!fs::is_directory(root))
    throw std::runtime_error(dir + ": not a directory (expected a Hugging Face checkpoint folder)");
  HfCheckpointFiles f;
  f.config = existing(root / "config.json");
  if (f.config.empty()) throw std::runtime_error((root / "config.json").string() + ": missing");
  f.weights = existing(root / "model.safetensors");
  if (f.weights.empty()) f.weights = existing(root / "pytorch_model.bin");
  if (f.weights.empty()) {
    for (const char* index : {"model.safetensors.index.json", "pytorch_model.bin.index.json"})
      if (fs::exists(root / index))
        throw std::runtime_error((root / index).string() +
                                 ": sharded checkpoints are not supported (one weights file)");
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
  char magic[2] = {0, 0};
  in.read(magic, 2);
  if (magic[0] != 'P' || magic[1] != 'K')
    throw std::runtime_error(path +
                             ": not a torch.save zip archive (legacy or foreign format; re-save it with "
                             "PyTorch >= 1.6, or as safetensors)");
  return read_torch_save_tensors(path, entry);
}

}  // namespace pyramidion
