#pragma once
// Subcommands of `pyramidion bench`.
#include <CLI/CLI.hpp>

namespace pyramidion::cli {

void add_bench_topk(CLI::App& bench);  // `bench topk` (src/cli/bench_topk.cpp)

}  // namespace pyramidion::cli
