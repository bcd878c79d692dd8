#pragma once
// Lines from a std::istream where a failure is never taken for the end of the input: a read error (EIO, a
// directory, a device) or a line too large for memory is a std::runtime_error of one line naming the input and
// the line ("NAME:LINE: read error (REASON)", "NAME:LINE: line too long (N bytes read)"). std::getline alone turns
// both into a quiet end of file, dropping that line and every later one.
#include <cstdint>
#include <cstdio>
#include <istream>
#include <string>

namespace pyramidion {

class LineReader {
 public:
  // `name` is used in messages ("stdin" for std::cin). `stdio` is the C stream under `in` when it is std::cin
  // (synchronized with stdio, whose read errors show only in ferror), else nullptr.
  LineReader(std::istream& in, std::string name, std::FILE* stdio = nullptr);

  // The next line without its '\n'; false at the end of the input. Throws as described above.
  bool next(std::string& line);
  int64_t line_number() const { return line_number_; }  // of the last line returned, 1-based
  const std::string& name() const { return name_; }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  std::istream& in_;
  std::string name_;
  std::FILE* stdio_;
  int64_t line_number_ = 0;
};

}  // namespace pyramidion
