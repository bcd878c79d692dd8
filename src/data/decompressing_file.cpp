#include "decompressing_file.h"

#include <lzma.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace pyramidion::data {

struct DecompressingFile::State {
  bool xz = false;
  std::FILE* raw = nullptr;
  lzma_stream lzma = LZMA_STREAM_INIT;
  z_stream zlib{};
  std::vector<unsigned char> input = std::vector<unsigned char>(1 << 16);
  uint64_t read_bytes = 0;  // compressed bytes read from the file so far
  bool input_end = false;
  bool finished = false;
  std::string error;

  // Compressed bytes consumed by the decoder: the offset of a failure.
  uint64_t offset() const { return read_bytes - (xz ? lzma.avail_in : zlib.avail_in); }
  const char* format() const { return xz ? "xz" : "gzip"; }

  // Refills the input when empty; false once the file has no more bytes.
  bool refill(const unsigned char*& next, size_t& avail) {
    if (avail > 0 || input_end) return avail > 0;
    const size_t n = std::fread(input.data(), 1, input.size(), raw);
    if (n == 0) {
      if (std::ferror(raw)) {
        error = std::string("read error (") + std::strerror(errno != 0 ? errno : EIO) + ")";
        return false;
      }
      input_end = true;
      return false;
    }
    read_bytes += n;
    next = input.data();
    avail = n;
    return true;
  }

  ssize_t fail(const std::string& message) {
    error = message;
    errno = EIO;
    return -1;
  }

  ssize_t read_xz(char* out, size_t size) {
    lzma.next_out = reinterpret_cast<uint8_t*>(out);
    lzma.avail_out = size;
    while (lzma.avail_out > 0 && !finished) {
      refill(lzma.next_in, lzma.avail_in);
      if (!error.empty()) return -1;
      const lzma_ret ret = lzma_code(&lzma, input_end ? LZMA_FINISH : LZMA_RUN);
      if (ret == LZMA_STREAM_END) {
        finished = true;
      } else if (ret == LZMA_BUF_ERROR && input_end) {
        return fail("truncated xz data (it ends at compressed byte " + std::to_string(offset()) + ")");
      } else if (ret != LZMA_OK) {
        const char* why = ret == LZMA_FORMAT_ERROR ? "not xz data"
                          : ret == LZMA_DATA_ERROR ? "corrupt xz data"
                          : ret == LZMA_MEM_ERROR  ? "out of memory decompressing xz data"
                                                   : "unsupported or damaged xz data";
        return fail(std::string(why) + " at compressed byte " + std::to_string(offset()) + " (liblzma code " +
                    std::to_string(static_cast<int>(ret)) + ")");
      }
    }
    return static_cast<ssize_t>(size - lzma.avail_out);
  }

  ssize_t read_gzip(char* out, size_t size) {
    zlib.next_out = reinterpret_cast<Bytef*>(out);
    zlib.avail_out = static_cast<uInt>(size);
    while (zlib.avail_out > 0 && !finished) {
      const unsigned char* next = zlib.next_in;
      size_t avail = zlib.avail_in;
      refill(next, avail);
      zlib.next_in = const_cast<Bytef*>(next);
      zlib.avail_in = static_cast<uInt>(avail);
      if (!error.empty()) return -1;
      if (zlib.avail_in == 0 && input_end) {
        if (zlib.total_in == 0 && read_bytes > 0) {  // the file ended exactly after a member
          finished = true;
          break;
        }
        return fail("truncated gzip data (it ends at compressed byte " + std::to_string(offset()) + ")");
      }
      const int ret = inflate(&zlib, Z_NO_FLUSH);
      if (ret == Z_STREAM_END) {
        // Another gzip member may follow (concatenated files, as gzip -dc reads them).
        inflateReset(&zlib);
        const unsigned char* peek_next = zlib.next_in;
        size_t peek_avail = zlib.avail_in;
        if (!refill(peek_next, peek_avail)) {
          if (!error.empty()) return -1;
          finished = true;
        }
        zlib.next_in = const_cast<Bytef*>(peek_next);
        zlib.avail_in = static_cast<uInt>(peek_avail);
      } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
        const char* why = ret == Z_DATA_ERROR  ? "corrupt gzip data"
                          : ret == Z_MEM_ERROR ? "out of memory"
                                               : "damaged gzip data";
        return fail(std::string(why) + " at compressed byte " + std::to_string(offset()) +
                    (zlib.msg != nullptr ? std::string(" (") + zlib.msg + ")" : std::string()));
      }
    }
    return static_cast<ssize_t>(size - zlib.avail_out);
  }
};

namespace {

ssize_t read_cookie(void* cookie, char* buffer, size_t size) {
  auto* state = static_cast<DecompressingFile::State*>(cookie);
  if (!state->error.empty()) {
    errno = EIO;
    return -1;
  }
  return state->xz ? state->read_xz(buffer, size) : state->read_gzip(buffer, size);
}

}  // namespace

DecompressingFile::DecompressingFile(const std::string& path) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.xz = path.size() >= 3 && path.compare(path.size() - 3, 3, ".xz") == 0;
  s.raw = std::fopen(path.c_str(), "rb");
  if (s.raw == nullptr) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  bool ready = s.xz ? lzma_stream_decoder(&s.lzma, UINT64_MAX, LZMA_CONCATENATED) == LZMA_OK
                    : inflateInit2(&s.zlib, 15 + 16) == Z_OK;  // 15 + 16: gzip format
  if (ready) {
    cookie_io_functions_t io{};
    io.read = read_cookie;
    stream_ = fopencookie(state_.get(), "r", io);
    ready = stream_ != nullptr;
  }
  if (!ready) {
    if (s.xz)
      lzma_end(&s.lzma);
    else
      inflateEnd(&s.zlib);
    std::fclose(s.raw);
    throw std::runtime_error("cannot open " + path + ": the decompressor could not start (out of memory?)");
  }
}

DecompressingFile::~DecompressingFile() {
  if (stream_ != nullptr) std::fclose(stream_);
  if (state_->xz)
    lzma_end(&state_->lzma);
  else
    inflateEnd(&state_->zlib);
  if (state_->raw != nullptr) std::fclose(state_->raw);
}

const std::string& DecompressingFile::error() const { return state_->error; }

}  // namespace pyramidion::data
