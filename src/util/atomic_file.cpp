#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/text_predicates.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "fd_stream_buffer.h"

namespace pyramidion {
namespace fs = std::filesystem;

namespace {

// What an output path is, after following symbolic links.
struct OutputTarget {
  enum class Kind { kReplace, kThrough } kind = Kind::kReplace;
  std::string file;  // kReplace: the file to replace (a link's final target); kThrough: what to open
  int self_fd = -1;  // kThrough: a descriptor of this process the path names (/dev/stdout, /proc/self/fd/N)
};

// The descriptor of this process that `path` names (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N,
// /proc/thread-self/fd/N, /proc/PID/fd/N with our PID), or -1. `other_process` is set for /proc/PID/fd/N of another
// process (written through by opening it).
int descriptor_link(const std::string& path, bool& other_process) {
  other_process = false;
  std::error_code ec;
  const std::string p = fs::absolute(path, ec).lexically_normal().string();
  if (p == "/dev/stdout") return 1;
  if (p == "/dev/stderr") return 2;
  auto number_after = [&](const std::string& prefix) {
    if (p.compare(0, prefix.size(), prefix) != 0) return -1;
    const std::string rest = p.substr(prefix.size());
    return all_digits(rest) && rest.size() < 9 ? std::stoi(rest) : -1;
  };
  for (const char* prefix : {"/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"})
    if (const int fd = number_after(prefix); fd >= 0) return fd;
  if (p.compare(0, 6, "/proc/") == 0) {
    const auto slash = p.find('/', 6);
    if (slash != std::string::npos && all_digits(p.substr(6, slash - 6)) && p.compare(slash, 4, "/fd/") == 0 &&
        all_digits(p.substr(slash + 4))) {
      if (p.substr(6, slash - 6) == std::to_string(::getpid())) return number_after(p.substr(0, slash + 4));
      other_process = true;
    }
  }
  return -1;
}

OutputTarget resolve_output(const std::string& path) {
  if (path.empty()) throw std::runtime_error("an output path is empty");
  OutputTarget target;
  std::string current = path;
  for (int hops = 0; hops < 40; ++hops) {
    bool other_process = false;
    target.self_fd = descriptor_link(current, other_process);
    if (target.self_fd >= 0 || other_process) {
      target.kind = OutputTarget::Kind::kThrough;
      target.file = current;
      return target;
    }
    struct stat info {};
    if (::lstat(current.c_str(), &info) != 0) {
      if (errno != ENOENT) throw std::runtime_error(path + ": cannot write (" + std::strerror(errno) + ")");
      target.file = current;  // nothing there yet (or a dangling link's target): created by the rename
      return target;
    }
    if (S_ISLNK(info.st_mode)) {
      std::vector<char> link(static_cast<size_t>(info.st_size > 0 ? info.st_size : 255) + 2);
      const ssize_t n = ::readlink(current.c_str(), link.data(), link.size() - 1);
      if (n < 0) throw std::runtime_error(path + ": cannot read the symbolic link (" + std::strerror(errno) + ")");
      const fs::path to(std::string(link.data(), static_cast<size_t>(n)));
      current = (to.is_absolute() ? to : fs::path(current).parent_path() / to).string();
      continue;
    }
    if (S_ISREG(info.st_mode)) {
      target.file = current;
      return target;
    }
    if (S_ISDIR(info.st_mode)) throw std::runtime_error(path + ": is a directory");
    target.kind = OutputTarget::Kind::kThrough;  // FIFO, character or block device, socket
    target.file = current;
    return target;
  }
  throw std::runtime_error(path + ": cannot write (too many levels of symbolic links)");
}

}  // namespace

std::string temporary_path_for(const std::string& final_path) {
  static std::atomic<int> counter{0};
  return final_path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

void commit_file(const std::string& temp_path, const std::string& final_path) {
  // Data on disk before the rename makes it visible: a crash cannot leave a renamed but empty file.
  const int fd = ::open(temp_path.c_str(), O_RDONLY | O_CLOEXEC);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced || std::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp_path.c_str());
    throw std::runtime_error(final_path + ": cannot write the file (" + reason + ")");
  }
}

AtomicFileWriter::AtomicFileWriter(std::string path, bool /*binary*/) : path_(std::move(path)) {
  const OutputTarget target = resolve_output(path_);
  int fd = -1;
  if (target.kind == OutputTarget::Kind::kReplace) {
    target_path_ = target.file;
    temp_path_ = temporary_path_for(target_path_);
    fd = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      const int error = errno;
      temp_path_.clear();
      throw std::runtime_error(path_ + ": cannot write (" + std::strerror(error) + ")");
    }
  } else {
    target_path_ = path_;
    // This process's own descriptor: a duplicate shares its offset and works for pipes and sockets alike.
    fd = target.self_fd >= 0 ? ::fcntl(target.self_fd, F_DUPFD_CLOEXEC, 3)
                             : ::open(target.file.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(path_ + ": cannot write (" + std::strerror(errno) + ")");
  }
  buffer_ = std::make_unique<FdStreamBuffer>(fd);
  out_ = std::make_unique<std::ostream>(buffer_.get());
}

AtomicFileWriter::~AtomicFileWriter() {
  out_.reset();
  buffer_.reset();  // closes the descriptor
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFileWriter::fail(const std::string& what, int error) {
  committed_ = true;  // nothing more to commit: the temporary file goes here
  buffer_->close();
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  throw std::runtime_error(path_ + ": " + what + " (" + std::strerror(error != 0 ? error : EIO) + ")");
}

void AtomicFileWriter::check() {
  if (buffer_->error() != 0 || !*out_) fail("write failed", buffer_->error());
}

void AtomicFileWriter::commit() {
  if (committed_) return;
  if (!buffer_->flush_all() || !*out_) fail("write failed", buffer_->error());
  if (!temp_path_.empty() && ::fsync(buffer_->fd()) != 0) fail("write failed", errno);
  if (!buffer_->close()) fail("write failed", buffer_->error());
  committed_ = true;
  if (temp_path_.empty()) return;  // written through
  if (std::rename(temp_path_.c_str(), target_path_.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp_path_.c_str());
    throw std::runtime_error(path_ + ": cannot write the file (" + std::strerror(error) + ")");
  }
}

void write_file_atomically(const std::string& path, const std::string& content) {
  AtomicFileWriter writer(path);
  writer.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
  writer.commit();
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": read error");
  return bytes.str();
}

}  // namespace pyramidion
