#include "pyramidion/util/directory_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace pyramidion {
namespace fs = std::filesystem;

DirectoryLock::DirectoryLock(const std::string& dir) {
  fs::create_directories(dir);
  const std::string path = (fs::path(dir) / ".lock").string();
  // O_NOFOLLOW: a symbolic link at DIR/.lock is refused, never followed (the pid written below would truncate and
  // overwrite its target); O_NONBLOCK: a FIFO there cannot hang the open. Only a regular file is a lock.
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd_ < 0 && errno == ELOOP)
    throw std::runtime_error(path + ": is a symbolic link; a lock file must be a regular file (remove the link)");
  if (fd_ < 0) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat info {};
  if (::fstat(fd_, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(path + ": is not a regular file; a lock file must be one (remove it)");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buffer[32] = {0};
    const ssize_t n = ::pread(fd_, buffer, sizeof buffer - 1, 0);
    ::close(fd_);
    fd_ = -1;
    const std::string holder = n > 0 ? " (pid " + std::string(buffer, static_cast<size_t>(n)) + ")" : "";
    throw std::runtime_error(dir + ": in use by another process" + holder +
                             "; wait for it or choose another directory");
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

int remove_stale_temporary_files(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos) continue;
    // NAME.tmp.PID.COUNTER
    const std::string rest = name.substr(at + 5);
    const auto dot = rest.find('.');
    if (dot == std::string::npos) continue;
    const std::string pid_text = rest.substr(0, dot);
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid != ::getpid() && ::kill(pid, 0) == 0) continue;  // its writer still runs
    if (fs::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace pyramidion
