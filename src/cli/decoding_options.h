#pragma once
// Decoding options shared by `summarize`, `evaluate` and `train` (validation), with fairseq's names.
#include <CLI/CLI.hpp>

#include "pyramidion/decoding/summarizer.h"

namespace pyramidion::cli {

void add_decoding_options(CLI::App& app, GenerationOptions& options);

}  // namespace pyramidion::cli
