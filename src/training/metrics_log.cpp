#include "pyramidion/training/metrics_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/json_depth.h"

namespace pyramidion {

MetricsLog::MetricsLog(std::string path, int64_t keep_until_update) : path_(std::move(path)) {
  if (keep_until_update >= 0 && std::filesystem::exists(path_)) {
    std::ifstream in(path_);
    std::ostringstream kept;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || !json_depth_ok(line)) continue;  // not a record this program wrote
      const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      // A torn last line (killed mid-write) is dropped like a later record.
      if (record.is_discarded()) continue;
      if (record.contains("update") && record["update"].is_number_integer() &&
          record["update"].get<int64_t>() > keep_until_update)
        continue;
      kept << line << "\n";
    }
    if (in.bad()) throw std::runtime_error(path_ + ": read error");
    in.close();
    write_file_atomically(path_, kept.str());
  }
  out_.open(path_, std::ios::app);
  if (!out_) throw std::runtime_error(path_ + ": cannot open for writing");
}

void MetricsLog::write(const nlohmann::ordered_json& record) {
  errno = 0;
  out_ << record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  out_.flush();
  // A full disk must stop the run with an error, not leave an empty log behind an exit code of 0.
  if (!out_) throw std::runtime_error(path_ + ": write failed (" + std::strerror(errno != 0 ? errno : EIO) + ")");
}

}  // namespace pyramidion
