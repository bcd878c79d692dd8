#include "dataset_directory.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "pyramidion/util/text_predicates.h"

namespace fs = std::filesystem;

namespace pyramidion::data {
namespace {

constexpr unsigned kRenameNoReplace = 1u << 0;  // linux/fs.h RENAME_NOREPLACE
constexpr unsigned kRenameExchange = 1u << 1;   // linux/fs.h RENAME_EXCHANGE

// renameat2(2); -1 with errno ENOSYS where the C library or kernel lacks it.
int rename_with_flags(const fs::path& from, const fs::path& to, unsigned flags) {
#ifdef SYS_renameat2
  return static_cast<int>(::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags));
#else
  (void)from, (void)to, (void)flags;
  errno = ENOSYS;
  return -1;
#endif
}

// The kernel or the file system has no renameat2 flags (old kernels, some network and FUSE file systems).
bool flags_unsupported(int error) { return error == EINVAL || error == ENOSYS || error == EOPNOTSUPP; }

std::runtime_error swap_error(const fs::path& dir, int error) {
  return std::runtime_error(dir.string() + ": cannot put the prepared dataset in place (" + std::strerror(error) + ")");
}

// A name `data prepare` writes: the marker, meta.json, the tokenizer (kDatasetTokenizerFiles), SPLIT.bin, or the
// temporary file of one of them (NAME.tmp.PID.N, util/atomic_file.h).
bool is_prepare_file(std::string name) {
  const auto tmp = name.find(".tmp.");
  if (tmp != std::string::npos) {
    const std::string rest = name.substr(tmp + 5);
    const auto dot = rest.find('.');
    if (dot == std::string::npos || !all_digits(rest.substr(0, dot)) || !all_digits(rest.substr(dot + 1))) return false;
    name.resize(tmp);
  }
  for (const auto& kind_and_file : kDatasetTokenizerFiles)
    if (name == kind_and_file[1]) return true;
  return name == kDatasetMarker || name == "meta.json" || (name.size() > 4 && ends_with(name, ".bin"));
}

bool has_marker(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(dir / kDatasetMarker, ec));
}

// A dataset from before the marker: its meta.json names the binary format and the splits.
bool is_unmarked_dataset(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::symlink_status(dir / "meta.json", ec))) return false;
  try {
    const auto meta = nlohmann::json::parse(std::ifstream(dir / "meta.json"));
    return meta.is_object() && meta.contains("format_version") && meta.contains("splits");
  } catch (const std::exception&) {
    return false;
  }
}

// The first entry of `dir` that `data prepare` does not write, or "" when there is none.
std::string foreign_entry(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!fs::is_regular_file(entry.symlink_status(ec)) || !is_prepare_file(name)) return name;
  }
  if (ec) return "(unreadable: " + ec.message() + ")";
  return "";
}

// Removes from `dir` only the files `data prepare` writes, then `dir` itself if that emptied it. False when
// something else is left.
bool remove_prepared_directory(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> ours;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (fs::is_regular_file(entry.symlink_status(ec)) && is_prepare_file(entry.path().filename().string()))
      ours.push_back(entry.path());
  for (const auto& file : ours) fs::remove(file, ec);
  return fs::remove(dir, ec) && !ec;  // rmdir: only an empty directory goes
}

bool process_running(long pid) {
  if (pid == static_cast<long>(::getpid())) return true;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

bool inside(const fs::path& file, const fs::path& dir) {
  std::error_code ec;
  const fs::path f = fs::weakly_canonical(file, ec);
  if (ec) return false;
  const fs::path d = fs::weakly_canonical(dir, ec);
  if (ec) return false;
  auto fi = f.begin();
  for (auto di = d.begin(); di != d.end(); ++di, ++fi) {
    if (di->empty()) continue;  // a trailing separator
    if (fi == f.end() || *fi != *di) return false;
  }
  return true;
}

}  // namespace

void check_dataset_output(const fs::path& dir, const std::vector<std::string>& inputs) {
  const std::string name = dir.string();
  std::error_code ec;
  const auto status = fs::symlink_status(dir, ec);
  if (!fs::exists(status)) return;
  if (fs::is_symlink(status))
    throw std::runtime_error(name +
                             ": is a symbolic link; `data prepare -o` replaces only a directory it wrote "
                             "earlier (choose another output path)");
  if (!fs::is_directory(status))
    throw std::runtime_error(name + ": exists and is not a directory; choose another output path");
  if (fs::equivalent(dir, fs::current_path(), ec))
    throw std::runtime_error(name + ": is the current directory; choose another output path");
  for (const auto& input : inputs)
    if (!input.empty() && inside(input, dir))
      throw std::runtime_error(name + ": holds the input " + input + "; choose another output path");
  if (fs::is_empty(dir, ec)) return;
  if (!has_marker(dir) && !is_unmarked_dataset(dir))
    throw std::runtime_error(name + ": exists and is not a dataset directory from `data prepare` (no " +
                             std::string(kDatasetMarker) + "); choose another output path or remove it yourself");
  const std::string foreign = foreign_entry(dir);
  if (!foreign.empty())
    throw std::runtime_error(name + ": holds " + foreign +
                             ", which `data prepare` did not write; move it away or "
                             "choose another output path");
}

int recover_interrupted_prepare(const fs::path& dir) {
  const fs::path parent = dir.parent_path();
  const std::string name = dir.filename().string();
  struct Leftover {
    fs::path path;
    bool previous_output;  // DIR.old.PID: the dataset that was at DIR
  };
  std::vector<Leftover> leftovers;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string entry_name = entry.path().filename().string();
    for (const std::string kind : {".old.", ".tmp."}) {
      const std::string prefix = name + kind;
      if (entry_name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string pid = entry_name.substr(prefix.size());
      if (!all_digits(pid) || pid.size() > 9 || process_running(std::stol(pid))) continue;
      leftovers.push_back({entry.path(), kind == ".old."});
    }
  }
  std::stable_partition(leftovers.begin(), leftovers.end(), [](const Leftover& l) { return l.previous_output; });
  int handled = 0;
  for (const auto& leftover : leftovers) {
    if (!fs::is_directory(fs::symlink_status(leftover.path, ec))) continue;
    if (!has_marker(leftover.path) && !fs::is_empty(leftover.path, ec)) continue;  // not ours: never touched
    if (leftover.previous_output && !fs::exists(fs::symlink_status(dir, ec))) {
      if (::rename(leftover.path.c_str(), dir.c_str()) == 0) {
        spdlog::warn("{}: put back the previous dataset that an interrupted `data prepare` had moved to {}",
                     dir.string(), leftover.path.string());
        ++handled;
      }
      continue;
    }
    if (remove_prepared_directory(leftover.path)) {
      spdlog::info("removed {}, left by an interrupted `data prepare`", leftover.path.string());
      ++handled;
    }
  }
  return handled;
}

fs::path create_staging_directory(const fs::path& dir) {
  const fs::path staging = dir.string() + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  if (fs::exists(fs::symlink_status(staging, ec))) {  // from an earlier process that had this pid
    const bool ours =
        fs::is_directory(fs::symlink_status(staging, ec)) && (has_marker(staging) || fs::is_empty(staging, ec));
    if (!ours || !remove_prepared_directory(staging))
      throw std::runtime_error(staging.string() +
                               ": exists and is not a staging directory of `data prepare`; remove it");
  }
  if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path());
  if (!fs::create_directory(staging, ec) || ec)
    throw std::runtime_error(staging.string() + ": cannot create (" + (ec ? ec.message() : "exists") + ")");
  std::ofstream marker(staging / kDatasetMarker);
  marker << "A dataset written by `pyramidion data prepare`: a later `data prepare -o` into this directory may "
            "replace it.\n";
  marker.close();
  if (!marker) throw std::runtime_error((staging / kDatasetMarker).string() + ": cannot write");
  return staging;
}

void swap_in_dataset(const fs::path& staging, const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) {
    if (rename_with_flags(staging, dir, kRenameNoReplace) == 0) return;
    if (!flags_unsupported(errno)) throw swap_error(dir, errno);
    if (::rename(staging.c_str(), dir.c_str()) != 0) throw swap_error(dir, errno);  // replaces an empty directory only
    return;
  }
  // One step: the new dataset and the previous one trade places, so a crash never leaves no dataset at `dir`.
  if (rename_with_flags(staging, dir, kRenameExchange) == 0) {
    if (!remove_prepared_directory(staging))
      spdlog::warn("{}: the previous dataset moved there still holds files `data prepare` did not write; left as is",
                   staging.string());
    return;
  }
  if (!flags_unsupported(errno)) throw swap_error(dir, errno);
  // Two steps: a crash between them leaves the previous dataset at DIR.old.PID, put back by the next run.
  const fs::path old = dir.string() + ".old." + std::to_string(::getpid());
  if (::rename(dir.c_str(), old.c_str()) != 0) throw swap_error(dir, errno);
  if (::rename(staging.c_str(), dir.c_str()) != 0) {
    const int error = errno;
    ::rename(old.c_str(), dir.c_str());
    throw swap_error(dir, error);
  }
  if (!remove_prepared_directory(old))
    spdlog::warn("{}: the previous dataset moved there still holds files `data prepare` did not write; left as is",
                 old.string());
}

}  // namespace pyramidion::data
