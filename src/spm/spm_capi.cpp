// The C-ABI wrapper around SentencePiece (see spm_capi.h). Every entry point catches everything: no
// exception may cross into the caller's link namespace.
#include "spm_capi.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#define SPM_EXPORT extern "C" __attribute__((visibility("default")))

struct spm_processor {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

void set_error(char* err, size_t err_size, const std::string& message) {
  if (err == nullptr || err_size == 0) return;
  size_t n = message.size() < err_size - 1 ? message.size() : err_size - 1;
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

// Copies into a malloc'd buffer of this namespace's libc, freed by spm_free_buffer.
char* copy_out(const std::string& bytes) {
  char* out = static_cast<char*>(std::malloc(bytes.size() + 1));
  if (out == nullptr) return nullptr;
  std::memcpy(out, bytes.data(), bytes.size());
  out[bytes.size()] = '\0';
  return out;
}

// Runs `body` (returning 0 on success), turning exceptions into an error message: nothing may cross the C ABI.
template <typename Body>
int guarded(char* err, size_t err_size, const char* action, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    set_error(err, err_size, e.what());
  } catch (...) {
    set_error(err, err_size, std::string("unknown error while ") + action);
  }
  return 1;
}

// Returns 1 with `status`'s message when it failed.
int failed(const sentencepiece::util::Status& status, char* err, size_t err_size) {
  if (status.ok()) return 0;
  set_error(err, err_size, status.ToString());
  return 1;
}

// Hands `bytes` to the caller as a malloc'ed buffer.
int give_out(const std::string& bytes, char** out, size_t* out_size, char* err, size_t err_size) {
  *out = copy_out(bytes);
  *out_size = bytes.size();
  if (*out != nullptr) return 0;
  set_error(err, err_size, "out of memory");
  return 1;
}

spm_processor* load(const std::function<sentencepiece::util::Status(sentencepiece::SentencePieceProcessor&)>& loader,
                    char* err, size_t err_size) {
  try {
    auto holder = std::make_unique<spm_processor>();
    auto status = loader(holder->processor);
    if (!status.ok()) {
      set_error(err, err_size, status.ToString());
      return nullptr;
    }
    return holder.release();
  } catch (const std::exception& e) {
    set_error(err, err_size, e.what());
  } catch (...) {
    set_error(err, err_size, "unknown error while loading the SentencePiece model");
  }
  return nullptr;
}

}  // namespace

SPM_EXPORT int spm_abi_version(void) { return PYRAMIDION_SPM_ABI_VERSION; }

SPM_EXPORT int spm_train(const char* const* keys, const char* const* values, size_t count, char** model,
                         size_t* model_size, char* err, size_t err_size) {
  return guarded(err, err_size, "training SentencePiece", [&] {
    std::unordered_map<std::string, std::string> kwargs;
    for (size_t i = 0; i < count; ++i) {
      // Not a TrainerSpec field: the seed of SentencePiece's global generator (sampling, shuffling).
      if (std::strcmp(keys[i], "random_seed") == 0) {
        sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned int>(std::strtoul(values[i], nullptr, 10)));
        continue;
      }
      kwargs[keys[i]] = values[i];
    }
    std::string serialized;
    if (failed(sentencepiece::SentencePieceTrainer::Train(kwargs, nullptr, &serialized), err, err_size)) return 1;
    return give_out(serialized, model, model_size, err, err_size);
  });
}

SPM_EXPORT spm_processor* spm_load_from_file(const char* path, char* err, size_t err_size) {
  std::string file(path);
  return load([&](sentencepiece::SentencePieceProcessor& p) { return p.Load(file); }, err, err_size);
}

SPM_EXPORT spm_processor* spm_load_from_serialized(const char* bytes, size_t size, char* err, size_t err_size) {
  std::string serialized(bytes, size);
  return load([&](sentencepiece::SentencePieceProcessor& p) { return p.LoadFromSerializedProto(serialized); }, err,
              err_size);
}

SPM_EXPORT void spm_free(spm_processor* processor) { delete processor; }
SPM_EXPORT void spm_free_buffer(void* buffer) { std::free(buffer); }

SPM_EXPORT int spm_encode_ids(const spm_processor* processor, const char* text, size_t text_size, int32_t** ids,
                              size_t* count, char* err, size_t err_size) {
  return guarded(err, err_size, "encoding", [&] {
    std::vector<int> out;
    if (failed(processor->processor.Encode(absl::string_view(text, text_size), &out), err, err_size)) return 1;
    *count = out.size();
    *ids = static_cast<int32_t*>(std::malloc((out.size() + 1) * sizeof(int32_t)));
    if (*ids == nullptr) {
      set_error(err, err_size, "out of memory");
      return 1;
    }
    for (size_t i = 0; i < out.size(); ++i) (*ids)[i] = out[i];
    return 0;
  });
}

SPM_EXPORT int spm_decode_ids(const spm_processor* processor, const int32_t* ids, size_t count, char** text,
                              size_t* text_size, char* err, size_t err_size) {
  return guarded(err, err_size, "decoding", [&] {
    std::vector<int> in(ids, ids + count);
    std::string out;
    if (failed(processor->processor.Decode(in, &out), err, err_size)) return 1;
    return give_out(out, text, text_size, err, err_size);
  });
}

SPM_EXPORT int spm_vocab_size(const spm_processor* processor) { return processor->processor.GetPieceSize(); }

SPM_EXPORT int spm_piece_to_id(const spm_processor* processor, const char* piece, size_t piece_size) {
  return processor->processor.PieceToId(absl::string_view(piece, piece_size));
}

SPM_EXPORT int spm_id_to_piece(const spm_processor* processor, int id, const char** piece, size_t* piece_size) {
  if (id < 0 || id >= processor->processor.GetPieceSize()) return -1;
  const std::string& p = processor->processor.IdToPiece(id);
  *piece = p.data();
  *piece_size = p.size();
  return 0;
}

SPM_EXPORT void spm_special_ids(const spm_processor* processor, int* unk, int* bos, int* eos, int* pad) {
  *unk = processor->processor.unk_id();
  *bos = processor->processor.bos_id();
  *eos = processor->processor.eos_id();
  *pad = processor->processor.pad_id();
}

SPM_EXPORT int spm_serialized_model(const spm_processor* processor, char** bytes, size_t* size, char* err,
                                    size_t err_size) {
  return guarded(err, err_size, "serializing the model",
                 [&] { return give_out(processor->processor.serialized_model_proto(), bytes, size, err, err_size); });
}
