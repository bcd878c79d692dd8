#pragma once
// Loading a model file together with its embedded tokenizer, for the commands that generate.
#include <string>

#include "pyramidion/data/tokenizer.h"
#include "pyramidion/models/model_file.h"

namespace pyramidion::cli {

struct Summarizer {
  LoadedModel loaded;
  data::SentencePieceTokenizer tokenizer;
};

// "cpu", "cuda", "cuda:1", or "auto" (CUDA when available). Throws CommandError when unavailable.
torch::Device parse_device(const std::string& name);

// Throws CommandError naming the file on a missing/corrupt model or a tokenizer that does not match it.
Summarizer load_summarizer(const std::string& path, const torch::Device& device);

}  // namespace pyramidion::cli
