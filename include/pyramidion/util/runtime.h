#pragma once
// Process-wide settings for programs built on pyramidion (the CLI, tests, benchmarks). The library's classes never
// change them (a Summarizer or Trainer constructor would silently reset another's choice): the program sets them once
// (the CLI's main from --threads, the Python module from Summarizer(threads=...), the training job from
// training.threads).
namespace pyramidion {

// Intra-op thread count for LibTorch (Debian's build defaults to 1 thread; we use the machine).
// requested > 0: use it; otherwise $PYRAMIDION_THREADS, else the number of hardware threads.
// Returns the count that was set.
int configure_threads(int requested);

// glibc returns every allocation above 32 MiB to the kernel when it is freed, so each training step
// page-faults its large activations afresh (measured: 3x slower top-k forward+backward). This serves
// large blocks from the heap and keeps freed memory for reuse. $PYRAMIDION_KEEP_MEMORY=0 turns it off.
void keep_freed_memory();

// While alive, undoes keep_freed_memory(): large blocks are mapped per allocation and unmapped when freed (every
// block of 128 KiB or more), so the resident set follows the live memory instead of the heap's high-water mark
// and its fragmentation. For measuring peak memory on the CPU (PeakMemoryMeter); slower, so not for timing.
class ReturnFreedMemoryScope {
 public:
  ReturnFreedMemoryScope();
  ~ReturnFreedMemoryScope();
  ReturnFreedMemoryScope(const ReturnFreedMemoryScope&) = delete;
  ReturnFreedMemoryScope& operator=(const ReturnFreedMemoryScope&) = delete;

 private:
  bool restore_ = false;
};

}  // namespace pyramidion
