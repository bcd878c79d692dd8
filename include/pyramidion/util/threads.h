#pragma once
// Intra-op thread count for LibTorch. Debian's build defaults to 1 thread; we use the machine.
namespace pyramidion {

// requested > 0: use it; otherwise $PYRAMIDION_THREADS, else the number of hardware threads.
// Returns the count that was set.
int configure_threads(int requested);

}  // namespace pyramidion
