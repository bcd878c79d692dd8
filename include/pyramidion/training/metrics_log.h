#pragma once
// save_dir/metrics.jsonl: one JSON object per line ({"kind": "train", ...} per log interval, {"kind": "valid",
// ...} per validation), appended and flushed line by line so plots can follow a running job.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <string>

namespace pyramidion {

class MetricsLog {
 public:
  // Opens `path` for appending. keep_until_update >= 0 (a resumed run): first drops the records whose "update"
  // is later than it (written after the checkpoint by the interrupted run), so the file reads as one run.
  explicit MetricsLog(std::string path, int64_t keep_until_update = -1);

  void write(const nlohmann::ordered_json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace pyramidion
