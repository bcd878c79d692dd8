#pragma once
// The commands' side of model loading: library errors become one-line CommandErrors naming the option or file.
#include <c10/core/Device.h>
#include <CLI/CLI.hpp>

#include <string>

#include "pyramidion/decoding/summarizer.h"

namespace pyramidion::cli {

// "cpu", "cuda", "cuda:N", or "auto". Throws CommandError "--device NAME: ..." when unavailable.
c10::Device parse_device(const std::string& name);

// --device and --dtype, for the commands that load a model.
void add_model_loading_options(CLI::App& app, SummarizerOptions& options);

// Summarizer::load with the errors as CommandError (naming the file, or --device / --dtype).
Summarizer load_summarizer(const std::string& path, const SummarizerOptions& options);

}  // namespace pyramidion::cli
