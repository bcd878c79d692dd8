#include "line_source.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "pyramidion/util/text_predicates.h"

namespace pyramidion::data {

bool is_compressed_path(const std::string& path) { return ends_with(path, ".xz") || ends_with(path, ".gz"); }

std::string strip_compression_suffix(const std::string& path) {
  return is_compressed_path(path) ? path.substr(0, path.size() - 3) : path;
}

LineSource::LineSource(const std::string& path) : path_(path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error("cannot open " + path + ": no such file");
  if (is_compressed_path(path)) {
    decompressing_ = std::make_unique<DecompressingFile>(path);
    file_ = decompressing_->stream();
  } else {
    file_ = std::fopen(path.c_str(), "rb");
    if (file_ == nullptr) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  }
}

LineSource::~LineSource() {
  close();
  std::free(buffer_);
}

void LineSource::close() {
  if (file_ != nullptr && !decompressing_) std::fclose(file_);
  file_ = nullptr;
  decompressing_.reset();
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
      const std::string archive = decompressing_ ? decompressing_->error() : std::string();
      close();
      if (!archive.empty()) throw std::runtime_error(where + archive);
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
