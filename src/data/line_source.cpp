#include "line_source.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace pyramidion::data {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shell_quote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

bool program_exists(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return false;
}

}  // namespace

bool is_compressed_path(const std::string& path) { return ends_with(path, ".xz") || ends_with(path, ".gz"); }

std::string strip_compression_suffix(const std::string& path) {
  return is_compressed_path(path) ? path.substr(0, path.size() - 3) : path;
}

LineSource::LineSource(const std::string& path) : path_(path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error("cannot open " + path + ": no such file");
  if (is_compressed_path(path)) {
    std::string program = ends_with(path, ".xz") ? "xz" : "gzip";
    if (!program_exists(program))
      throw std::runtime_error("cannot read " + path + ": `" + program + "` is not installed");
    std::string command = program + " -dc " + shell_quote(path);
    file_ = ::popen(command.c_str(), "r");
    piped_ = true;
  } else {
    file_ = std::fopen(path.c_str(), "rb");
  }
  if (file_ == nullptr) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
}

LineSource::~LineSource() {
  if (file_ != nullptr) {
    if (piped_) ::pclose(file_);  // early close: the decompressor may die of SIGPIPE, which is fine
    else std::fclose(file_);
  }
  std::free(buffer_);
}

void LineSource::close() {
  std::FILE* file = file_;
  file_ = nullptr;
  if (!piped_) {
    std::fclose(file);
    return;
  }
  int status = ::pclose(file);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("cannot read " + path_ + ": the decompressor failed (corrupt or truncated file?)");
}

bool LineSource::next(std::string& line) {
  if (file_ == nullptr) return false;
  errno = 0;
  ssize_t n = ::getline(&buffer_, &capacity_, file_);
  if (n < 0) {
    // getline's -1 is the end of the file only when feof says so: a read error sets ferror, a line too large for
    // memory only errno (ENOMEM). Either is an error naming the line, never a quiet end of the input.
    const int error = errno;
    const bool end = std::feof(file_) != 0 && std::ferror(file_) == 0;
    const std::string where = path_ + ":" + std::to_string(line_number_ + 1) + ": ";
    if (!end) {
      std::FILE* file = file_;
      file_ = nullptr;
      if (piped_) ::pclose(file);
      else std::fclose(file);
      if (error == ENOMEM || error == EOVERFLOW)
        throw std::runtime_error(where + "line too long (" + std::to_string(capacity_) +
                                 " bytes read, more than memory allows)");
      throw std::runtime_error(where + "read error (" + std::strerror(error != 0 ? error : EIO) + ")");
    }
    close();
    return false;
  }
  while (n > 0 && (buffer_[n - 1] == '\n' || buffer_[n - 1] == '\r')) --n;
  // A UTF-8 byte order mark at the start of the file is no part of the first record.
  const bool bom = line_number_ == 0 && n >= 3 && std::memcmp(buffer_, "\xEF\xBB\xBF", 3) == 0;
  line.assign(buffer_ + (bom ? 3 : 0), static_cast<size_t>(n - (bom ? 3 : 0)));
  ++line_number_;
  return true;
}

}  // namespace pyramidion::data
