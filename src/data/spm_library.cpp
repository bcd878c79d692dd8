#include "spm_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace fs = std::filesystem;

namespace pyramidion::data {
namespace {

constexpr const char* kLibraryName = "libpyramidion_spm.so";

std::vector<std::string> candidate_paths() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("PYRAMIDION_SPM_LIB"); env && *env) {
    candidates.push_back(env);
    return candidates;  // an explicit choice is not second-guessed
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back((exe.parent_path() / kLibraryName).string());
    candidates.push_back((exe.parent_path() / ".." / "lib" / kLibraryName).lexically_normal().string());
  }
#ifdef PYRAMIDION_INSTALL_LIBDIR
  candidates.push_back((fs::path(PYRAMIDION_INSTALL_LIBDIR) / kLibraryName).string());
#endif
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&candidate_paths), &info) && info.dli_fname) {
    fs::path self = fs::absolute(info.dli_fname, ec);
    if (!ec) candidates.push_back((self.parent_path() / kLibraryName).string());
  }
  return candidates;
}

template <typename F>
void resolve(void* handle, const char* name, F& slot, const std::string& path) {
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) throw std::runtime_error(path + ": missing symbol " + name);
  slot = reinterpret_cast<F>(symbol);
}

SpmLibrary load_library() {
  std::string searched;
  void* handle = nullptr;
  std::string path;
  for (const auto& candidate : candidate_paths()) {
    searched += (searched.empty() ? " " : ", ") + candidate;
    if (!fs::exists(candidate)) continue;
    handle = dlmopen(LM_ID_NEWLM, candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* error = dlerror();
      throw std::runtime_error("cannot load " + candidate + ": " + (error ? error : "unknown dlmopen error"));
    }
    path = candidate;
    break;
  }
  if (handle == nullptr)
    throw std::runtime_error(std::string("SentencePiece support library ") + kLibraryName +
                             " not found (set PYRAMIDION_SPM_LIB); searched:" + searched);
  SpmLibrary lib;
  lib.path = path;
  resolve(handle, "spm_abi_version", lib.abi_version, path);
  if (lib.abi_version() != PYRAMIDION_SPM_ABI_VERSION)
    throw std::runtime_error(path + ": ABI version " + std::to_string(lib.abi_version()) + ", expected " +
                             std::to_string(PYRAMIDION_SPM_ABI_VERSION));
  resolve(handle, "spm_train", lib.train, path);
  resolve(handle, "spm_load_from_file", lib.load_from_file, path);
  resolve(handle, "spm_load_from_serialized", lib.load_from_serialized, path);
  resolve(handle, "spm_free", lib.free_processor, path);
  resolve(handle, "spm_free_buffer", lib.free_buffer, path);
  resolve(handle, "spm_encode_ids", lib.encode_ids, path);
  resolve(handle, "spm_decode_ids", lib.decode_ids, path);
  resolve(handle, "spm_vocab_size", lib.vocab_size, path);
  resolve(handle, "spm_piece_to_id", lib.piece_to_id, path);
  resolve(handle, "spm_id_to_piece", lib.id_to_piece, path);
  resolve(handle, "spm_special_ids", lib.special_ids, path);
  resolve(handle, "spm_serialized_model", lib.serialized_model, path);
  return lib;
}

}  // namespace

const SpmLibrary& spm_library() {
  // A failed load is retried on the next call (e.g. after PYRAMIDION_SPM_LIB is fixed); a success is kept.
  static std::mutex mutex;
  static std::unique_ptr<SpmLibrary> library;
  std::lock_guard<std::mutex> lock(mutex);
  if (!library) library = std::make_unique<SpmLibrary>(load_library());
  return *library;
}

}  // namespace pyramidion::data
