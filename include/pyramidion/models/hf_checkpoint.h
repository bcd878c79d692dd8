#pragma once
// The files of a Hugging Face checkpoint folder, and the tensors of a weights file.
#include <string>

#include "pyramidion/util/tensor_archive.h"

namespace pyramidion {

struct HfCheckpointFiles {
  std::string config;          // DIR/config.json
  std::string weights;         // DIR/model.safetensors, else DIR/pytorch_model.bin
  std::string sentencepiece;   // DIR/spiece.model (PEGASUS) or empty
  std::string vocab_json;      // DIR/vocab.json (GPT-2 byte-level BPE, BART) or empty
  std::string merges_txt;      // DIR/merges.txt or empty
  std::string tokenizer_json;  // DIR/tokenizer.json or empty
};

// Throws std::runtime_error naming the folder and the missing file (config.json, a weights file) or a sharded
// checkpoint (*.index.json: not supported).
HfCheckpointFiles find_hf_checkpoint_files(const std::string& dir);

// The tensors of a weights file, CPU, in file order: a .safetensors file, or a torch.save'd state dict
// (the zip format since PyTorch 1.6: pytorch_model.bin; models/torch_save_reader.h). `entry` picks a nested
// dict (fairseq checkpoints keep the state dict under "model"); empty = the top level.
// Throws std::runtime_error "<path>: ..." (one line) for a truncated or foreign file.
NamedTensors read_checkpoint_tensors(const std::string& path, const std::string& entry = "");

}  // namespace pyramidion
