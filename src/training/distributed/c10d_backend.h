#pragma once
// The c10d types this directory uses, across LibTorch versions: 1.13 has one ProcessGroup class that Gloo and
// NCCL derive from; 2.x split it into ProcessGroup (a dispatcher) and Backend (what Gloo and NCCL implement).
// Only src/training/distributed/*.cpp include this (c10d and Gloo headers stay out of the public headers).
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

namespace pyramidion::distributed {

#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

// A collective failed (a peer died or hung, the network broke); the message says which rank and what.
class CollectiveFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The message of a failed collective without LibTorch's C++ backtrace.
inline std::string collective_error_text(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    std::string text = error->what_without_backtrace();
    if (const auto cut = text.find("\nException raised from"); cut != std::string::npos) text.resize(cut);
    return text;
  }
  return e.what();
}

}  // namespace pyramidion::distributed
