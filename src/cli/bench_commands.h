#pragma once
// Subcommands of `pyramidion bench`.
#include <CLI/CLI.hpp>

namespace pyramidion::cli {

void add_bench_topk(CLI::App& bench);  // `bench topk` (src/cli/bench_topk.cpp)
void add_bench_serve(CLI::App& bench);
void add_bench_int8(
    CLI::App& bench);  // `bench int8` (src/cli/bench_int8.cpp)          // `bench serve` (src/cli/bench_serve.cpp)
// Options and callback of plain `bench` (no subcommand): the architecture sweep (src/cli/bench_arch.cpp).
void add_bench_architectures(CLI::App& bench);

}  // namespace pyramidion::cli
