#include "atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pyramidion::data {

std::string temporary_path_for(const std::string& final_path) {
  static std::atomic<int> counter{0};
  std::ostringstream name;
  name << final_path << ".tmp." << ::getpid() << "." << counter++;
  return name.str();
}

void commit_file(const std::string& temp_path, const std::string& final_path) {
  if (std::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    std::remove(temp_path.c_str());
    throw std::runtime_error("cannot rename " + temp_path + " to " + final_path + ": " + reason);
  }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  std::string temp = temporary_path_for(path);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + temp + ": " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      throw std::runtime_error("error writing " + temp);
    }
  }
  commit_file(temp, path);
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace pyramidion::data
