// `pyramidion bench`: measurements. Plain `bench [options]` compares architectures over input lengths;
// `bench topk` times and checks the pooling operator.
#include "bench_commands.h"
#include "command.h"

namespace pyramidion::cli {

PYRAMIDION_COMMAND("bench", [](CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "measure speed, memory and approximation quality");
  bench->require_subcommand(0, 1);
  add_bench_architectures(*bench);
  add_bench_topk(*bench);
  add_bench_int8(*bench);
#ifdef PYRAMIDION_HAVE_SERVER
  add_bench_serve(*bench);
#endif
});

}  // namespace pyramidion::cli
