/* C ABI of libpyramidion_spm.so: the only code that links SentencePiece (and its bundled protobuf).
 * The library loads it with dlmopen into its own link namespace, so nothing here may pass C++ objects
 * or memory owned by one side's allocator to the other: buffers this library returns are freed with
 * spm_free_buffer, processors with spm_free. Errors: functions returning int give 0 on success and
 * write a NUL-terminated message into (err, err_size) otherwise; functions returning a pointer give
 * NULL on failure. */
#ifndef PYRAMIDION_SPM_CAPI_H
#define PYRAMIDION_SPM_CAPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PYRAMIDION_SPM_ABI_VERSION 1

typedef struct spm_processor spm_processor;

int spm_abi_version(void);

/* Trains a model from key/value trainer flags (SentencePiece's names, e.g. "input", "vocab_size").
 * On success *model (spm_free_buffer) holds the serialized model proto. */
int spm_train(const char* const* keys, const char* const* values, size_t count, char** model, size_t* model_size,
              char* err, size_t err_size);

spm_processor* spm_load_from_file(const char* path, char* err, size_t err_size);
spm_processor* spm_load_from_serialized(const char* bytes, size_t size, char* err, size_t err_size);
void spm_free(spm_processor* processor);
void spm_free_buffer(void* buffer);

/* Encode/decode are const on the processor and safe to call from several threads at once. */
int spm_encode_ids(const spm_processor* processor, const char* text, size_t text_size, int32_t** ids, size_t* count,
                   char* err, size_t err_size);
int spm_decode_ids(const spm_processor* processor, const int32_t* ids, size_t count, char** text, size_t* text_size,
                   char* err, size_t err_size);

int spm_vocab_size(const spm_processor* processor);
/* Returns the unknown id when the piece is not in the vocabulary. */
int spm_piece_to_id(const spm_processor* processor, const char* piece, size_t piece_size);
/* The piece stays owned by the processor; returns 0, or -1 for an id out of range. */
int spm_id_to_piece(const spm_processor* processor, int id, const char** piece, size_t* piece_size);
/* ids of <unk>, <s>, </s>, <pad> (-1 when disabled). */
void spm_special_ids(const spm_processor* processor, int* unk, int* bos, int* eos, int* pad);
int spm_serialized_model(const spm_processor* processor, char** bytes, size_t* size, char* err, size_t err_size);

#ifdef __cplusplus
}
#endif

#endif
