#pragma once
// libpyramidion_spm.so, loaded once per process with dlmopen(LM_ID_NEWLM) so SentencePiece and its
// protobuf live in their own link namespace, apart from LibTorch's protobuf.
#include <string>

#include "../spm/spm_capi.h"

namespace pyramidion::data {

struct SpmLibrary {
  std::string path;
  decltype(&spm_abi_version) abi_version;
  decltype(&spm_train) train;
  decltype(&spm_load_from_file) load_from_file;
  decltype(&spm_load_from_serialized) load_from_serialized;
  decltype(&spm_free) free_processor;
  decltype(&spm_free_buffer) free_buffer;
  decltype(&spm_encode_ids) encode_ids;
  decltype(&spm_decode_ids) decode_ids;
  decltype(&spm_vocab_size) vocab_size;
  decltype(&spm_piece_to_id) piece_to_id;
  decltype(&spm_id_to_piece) id_to_piece;
  decltype(&spm_special_ids) special_ids;
  decltype(&spm_serialized_model) serialized_model;
};

// Loads on first call (never unloaded: a link namespace is a scarce resource). Throws a message listing
// the places searched when the library is missing.
const SpmLibrary& spm_library();

}  // namespace pyramidion::data
