// .xz and .gz input decompressed in-process (data/decompressing_file.h through LineSource): the archives are made
// here with liblzma and zlib themselves; read back they equal the plain text, concatenated streams and members
// included, with no `xz`/`gzip` program on the PATH; a corrupt, truncated or foreign archive is one error naming
// the file, the line and the compressed byte offset.
#include <gtest/gtest.h>
#include <lzma.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/line_source.h"
#include "temp_dir.h"

namespace pyramidion::data {
namespace {

using testing::TempDir;

std::string xz_bytes(const std::string& text) {
  std::vector<uint8_t> out(lzma_stream_buffer_bound(text.size()));
  size_t used = 0;
  EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr, reinterpret_cast<const uint8_t*>(text.data()),
                                    text.size(), out.data(), &used, out.size()),
            LZMA_OK);
  return std::string(reinterpret_cast<const char*>(out.data()), used);
}

std::string gzip_bytes(const std::string& text) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(text.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Lines of varied length, more than the 64 KiB read buffer in all.
std::vector<std::string> sample_lines(int count, int salt) {
  std::vector<std::string> lines;
  for (int i = 0; i < count; ++i)
    lines.push_back("line " + std::to_string(i) + " " +
                    std::string(static_cast<size_t>((i * 37 + salt) % 90), 'a' + i % 26));
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  return text;
}

std::vector<std::string> read_lines(const std::string& path) {
  LineSource source(path);
  std::vector<std::string> lines;
  std::string line;
  while (source.next(line)) lines.push_back(line);
  return lines;
}

std::string error_reading(const std::string& path) {
  try {
    read_lines(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(DecompressingFile, XzAndGzipReadBackAsThePlainTextWithoutAnyProgram) {
  TempDir dir;
  const auto first = sample_lines(3000, 1), second = sample_lines(2000, 5);
  std::vector<std::string> all = first;
  all.insert(all.end(), second.begin(), second.end());
  // Two xz streams and two gzip members back to back, as `cat a.xz b.xz` makes them.
  const auto xz = dir.write("text.xz", xz_bytes(joined(first)) + xz_bytes(joined(second)));
  const auto gz = dir.write("text.gz", gzip_bytes(joined(first)) + gzip_bytes(joined(second)));
  const std::string saved_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", "", 1);  // in-process: no xz or gzip to run
  const auto from_xz = read_lines(xz), from_gz = read_lines(gz);
  setenv("PATH", saved_path.c_str(), 1);
  EXPECT_EQ(from_xz, all);
  EXPECT_EQ(from_gz, all);
  EXPECT_EQ(read_lines(dir.write("empty.xz", xz_bytes(""))), std::vector<std::string>{});
}

TEST(DecompressingFile, CorruptTruncatedAndForeignArchivesNameTheFileLineAndOffset) {
  TempDir dir;
  const std::string text = joined(sample_lines(4000, 3));
  std::string xz = xz_bytes(text);
  xz[xz.size() / 2] ^= 0x55;
  const auto corrupt = dir.write("corrupt.jsonl.xz", xz);
  std::string error = error_reading(corrupt);
  EXPECT_EQ(error.rfind(corrupt + ":", 0), 0u) << error;
  EXPECT_NE(error.find("corrupt xz data at compressed byte "), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;

  const std::string gz = gzip_bytes(text);
  const auto truncated = dir.write("truncated.gz", gz.substr(0, gz.size() / 2));
  error = error_reading(truncated);
  EXPECT_EQ(error.rfind(truncated + ":", 0), 0u) << error;
  EXPECT_NE(error.find("truncated gzip data (it ends at compressed byte " + std::to_string(gz.size() / 2) + ")"),
            std::string::npos)
      << error;

  std::string damaged = gz;
  damaged[damaged.size() / 3] ^= 0x5a;
  damaged[damaged.size() / 3 + 1] ^= 0x33;
  error = error_reading(dir.write("damaged.gz", damaged));
  EXPECT_NE(error.find("gzip data"), std::string::npos) << error;

  const auto foreign = dir.write("plain.xz", "this is not xz data\n");
  error = error_reading(foreign);
  EXPECT_NE(error.find(foreign + ":1: not xz data at compressed byte "), std::string::npos) << error;
}

}  // namespace
}  // namespace pyramidion::data
