#pragma once
// State dicts written by Python's torch.save (the zip format since PyTorch 1.6: pytorch_model.bin, fairseq's
// checkpoint_*.pt), read without Python. LibTorch 1.13's torch::pickle_load cannot read them (it fails on the
// OrderedDict with _metadata that module.state_dict() pickles, and on SETITEM), so this is a small pickle machine
// for what torch.save writes: dicts, OrderedDicts, lists, tuples, strings, numbers, and tensors rebuilt from their
// storages (torch._utils._rebuild_tensor_v2 / _rebuild_parameter over data/<key> records).
#include <nlohmann/json.hpp>

#include <string>

#include "pyramidion/util/tensor_archive.h"

namespace pyramidion {

// The tensors of the dict at the top level (entry empty) or under the top-level key `entry`, in pickle order,
// CPU, with their stored dtypes. Non-tensor values of that dict are skipped. Throws std::runtime_error
// "<path>: ..." (one line) for a file that is not a torch.save zip archive, a truncated one, or a pickle that uses
// anything else (an argparse Namespace, ...) on the way.
NamedTensors read_torch_save_tensors(const std::string& path, const std::string& entry = "");

// The other values of the pickle (or of its top-level `entry`) as JSON, without reading any tensor data: dicts and
// objects with a state (argparse.Namespace: its attributes) become objects, tuples and lists arrays, tensors and
// other values null. For fairseq's "args".
nlohmann::json read_torch_save_values(const std::string& path, const std::string& entry = "");

}  // namespace pyramidion
