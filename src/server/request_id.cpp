#include "server/request_id.h"

#include <fmt/format.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <random>

namespace pyramidion::server {

bool acceptable_request_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

std::string new_request_id() {
  static const uint32_t process = std::random_device{}();
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{:08x}-{:06d}", process, ++counter);
}

std::string request_id_from_head(const std::string& head) {
  const std::string name = "x-request-id:";
  size_t line = head.find("\r\n");
  while (line != std::string::npos && line + 2 < head.size()) {
    const size_t start = line + 2, end = head.find("\r\n", start);
    const std::string header = head.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (header.size() > name.size()) {
      std::string lower = header.substr(0, name.size());
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == name) {
        const size_t first = header.find_first_not_of(" \t", name.size());
        const size_t last = header.find_last_not_of(" \t");
        if (first != std::string::npos) {
          const std::string id = header.substr(first, last - first + 1);
          if (acceptable_request_id(id)) return id;
        }
        break;
      }
    }
    line = end;
  }
  return new_request_id();
}

}  // namespace pyramidion::server
