#pragma once
// Decoding options shared by `summarize`, `evaluate` and `train` (validation), with fairseq's names.
#include <CLI/CLI.hpp>

#include <string>

#include "pyramidion/decoding/summarizer.h"

namespace pyramidion::cli {

// Adds the options and checks them with the library's validate() once the subcommand is parsed (a bad value
// is a one-line error naming the flag).
void add_decoding_options(CLI::App& app, GenerationOptions& options);

// The command-line flag of a GenerationOptions field ("max_len_b" -> "--max-len-b").
std::string decoding_flag(const std::string& field);

// The summary length against the model: beam search stops at max_target_positions - 1 tokens. When --max-len-b
// was not given (max_len_b_given false), its default is lowered to that cap silently (a tiny model's 127, not 200);
// when the options given allow longer summaries than the model can write, a warning says summaries stop there
// (with strict, an error). Used by every command that generates.
void fit_length_to_model(GenerationOptions& options, const ModelConfig& model, bool max_len_b_given,
                         bool strict = false);

// validate() with the error naming the flag: throws CommandError "--max-len-b must be >= 0 (got -1)".
void check_decoding_options(const GenerationOptions& options);

}  // namespace pyramidion::cli
