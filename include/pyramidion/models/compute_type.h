#pragma once
// How a loaded model computes (CTranslate2's names): the weights' storage and the activations' precision.
//
//   default       the model file's own type: float32 for a float file, int8_float32 for an int8 file
//   float32       float32 weights and activations
//   int8          int8 weights per output row, float32 activations (= int8_float32; CPU only)
//   int8_float32  the same, CTranslate2's full name
//   bfloat16      bfloat16 weights and activations
//   auto          the fastest this device supports: int8_float32 on a CPU with AVX2 (docs/benchmarks.md, "int8"),
//                 else float32
// float64 and float16 (CUDA) are accepted too (the former --dtype values).
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace pyramidion {

enum class ComputeType { default_type, automatic, float32, float64, bfloat16, float16, int8_float32 };

// Throws std::invalid_argument "NAME: unknown compute type (float32, int8, int8_float32, bfloat16, auto, default)".
ComputeType parse_compute_type(const std::string& name);
std::string compute_type_name(ComputeType type);  // "int8_float32", ...

// default and auto made concrete for a device and a model file (int8 or not). Throws std::invalid_argument
// "NAME: ..." (one line) for a combination that cannot run: int8 on a non-CPU device, a float type for an int8
// file (its float weights are gone), float16 on a CPU.
ComputeType resolve_compute_type(ComputeType requested, const c10::Device& device, bool file_is_int8);

// The floating dtype of weights and activations (int8_float32: float32 activations). Throws for default/auto.
c10::ScalarType activation_dtype(ComputeType type);

}  // namespace pyramidion
