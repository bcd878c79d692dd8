// Issue 21: a read failure in the middle of an input is an error naming the input and the line, never the end of
// the input (std::getline alone drops that line and every later one and reports success).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <streambuf>
#include <system_error>

#include "address_space_limit.h"
#include "pyramidion/util/line_reader.h"

namespace pyramidion {
namespace {

// Serves `text`, then fails the way std::filebuf does on EIO: its underflow throws.
class FailingBuffer : public std::streambuf {
 public:
  explicit FailingBuffer(std::string text) : text_(std::move(text)) {
    setg(text_.data(), text_.data(), text_.data() + text_.size());
  }

 protected:
  int_type underflow() override { throw std::ios_base::failure("read", std::error_code(EIO, std::system_category())); }

 private:
  std::string text_;
};

std::string error_of_next(LineReader& lines) {
  std::string line;
  try {
    lines.next(line);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error; read \"" + line + "\")";
}

TEST(LineReader, ReadsLinesAndEndsAtTheEnd) {
  std::istringstream in("first\n\nthird");
  LineReader lines(in, "docs.jsonl");
  std::string line;
  ASSERT_TRUE(lines.next(line));
  EXPECT_EQ(line, "first");
  ASSERT_TRUE(lines.next(line));
  EXPECT_EQ(line, "");
  ASSERT_TRUE(lines.next(line));
  EXPECT_EQ(line, "third");
  EXPECT_EQ(lines.line_number(), 3);
  EXPECT_FALSE(lines.next(line));
}

TEST(LineReader, AReadErrorMidInputIsAnErrorNamingTheLine) {
  FailingBuffer buffer("first\nsecond\nthird, cut sho");
  std::istream in(&buffer);
  LineReader lines(in, "docs.jsonl");
  std::string line;
  ASSERT_TRUE(lines.next(line));
  ASSERT_TRUE(lines.next(line));
  EXPECT_EQ(error_of_next(lines), "docs.jsonl:3: read error (Input/output error)");
  // What a std::getline loop makes of the same stream: two lines and a quiet end.
  FailingBuffer again("first\nsecond\nthird, cut sho");
  std::istream plain(&again);
  int n = 0;
  while (std::getline(plain, line)) ++n;
  EXPECT_EQ(n, 2);
}

TEST(LineReader, ADirectoryIsAReadErrorNotAnEmptyInput) {
  std::ifstream in(std::filesystem::temp_directory_path());
  if (!in) GTEST_SKIP() << "this C++ library refuses to open a directory";
  LineReader lines(in, "somewhere");
  EXPECT_EQ(error_of_next(lines), "somewhere:1: read error (Is a directory)");
}

TEST(LineReader, ALineLargerThanMemoryIsAnErrorNamingTheLine) {
  // Line 2 is 4 GB of NUL bytes (a sparse file: no disk used); the address space allows 256 MB more than in use.
  const std::string path =
      (std::filesystem::temp_directory_path() / ("pyramidion-line-reader-" + std::to_string(::getpid()) + ".txt"))
          .string();
  {
    std::ofstream(path) << "short\n";
    const int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 6 + (int64_t{4} << 30)), 0);
    ::close(fd);
    std::ofstream(path, std::ios::app) << "\nlast\n";
  }
  std::ifstream in(path);
  LineReader lines(in, path);
  std::string line;
  ASSERT_TRUE(lines.next(line));
  std::string error;
  {
    testing::AddressSpaceLimit limit(256 << 20);
    if (!limit.active()) GTEST_SKIP() << "cannot limit the address space (or built with AddressSanitizer)";
    error = error_of_next(lines);
  }
  std::filesystem::remove(path);
  EXPECT_EQ(error.rfind(path + ":2: line too long (", 0), 0u) << error;
  EXPECT_NE(error.find(" bytes read"), std::string::npos) << error;
}

}  // namespace
}  // namespace pyramidion
