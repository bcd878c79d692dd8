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

// validate() with the error naming the flag: throws CommandError "--max-len-b must be >= 0 (got -1)".
void check_decoding_options(const GenerationOptions& options);

}  // namespace pyramidion::cli
