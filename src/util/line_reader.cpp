#include "pyramidion/util/line_reader.h"

#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <system_error>

namespace pyramidion {

LineReader::LineReader(std::istream& in, std::string name, std::FILE* stdio)
    : in_(in), name_(std::move(name)), stdio_(stdio) {}

void LineReader::fail(const std::string& what) const {
  throw std::runtime_error(name_ + ":" + std::to_string(line_number_ + 1) + ": " + what);
}

bool LineReader::next(std::string& line) {
  line.clear();
  // With badbit among the exceptions, std::getline rethrows what went wrong (std::bad_alloc, the stream buffer's
  // std::ios_base::failure) instead of only setting badbit.
  const auto mask = in_.exceptions();
  errno = 0;
  bool got = false;
  try {
    in_.exceptions(std::ios::badbit);
    got = static_cast<bool>(std::getline(in_, line));
    in_.exceptions(mask);
  } catch (const std::bad_alloc&) {
    const size_t read = line.size();
    line = std::string();
    in_.clear(in_.rdstate() & ~std::ios::badbit);
    in_.exceptions(mask);
    fail("line too long (" + std::to_string(read) + " bytes read, more than memory allows)");
  } catch (const std::ios_base::failure& e) {
    const int error = errno;
    in_.exceptions(std::ios::goodbit);
    const std::error_code code = e.code();
    fail("read error (" +
         std::string(code.category() == std::system_category() && code.value() != 0 ? code.message()
                     : error != 0                                                   ? std::strerror(error)
                                                                                    : e.what()) +
         ")");
  } catch (const std::exception& e) {
    in_.exceptions(std::ios::goodbit);
    fail(std::string("read error (") + e.what() + ")");
  }
  if (got) {
    ++line_number_;
    return true;
  }
  const int error = errno;
  if (in_.bad() || (stdio_ != nullptr && std::ferror(stdio_)))
    fail(std::string("read error (") + (error != 0 ? std::strerror(error) : "I/O error") + ")");
  return false;
}

}  // namespace pyramidion
