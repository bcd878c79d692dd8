#pragma once
// One writer per output directory: a second `train` on the same --save-dir would interleave metrics and race on
// checkpoints. The lock is an flock on DIR/.lock, released by the kernel when the process ends however it ends,
// so a killed run never leaves a stale lock behind.
#include <string>

namespace pyramidion {

class DirectoryLock {
 public:
  // Creates `dir` if needed. Throws std::runtime_error "DIR: in use by another process (pid N)" when another
  // process holds the lock, and "DIR/.lock: is a symbolic link; ..." (or "is not a regular file") when DIR/.lock is
  // anything but a regular file: it is never followed, so a link's target is never overwritten.
  explicit DirectoryLock(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes the temporary files an interrupted atomic write left in `dir` (NAME.tmp.PID.N, util/atomic_file.h) whose
// writer process no longer runs. Returns how many were removed.
int remove_stale_temporary_files(const std::string& dir);

}  // namespace pyramidion
