#include "pyramidion/util/tensor_archive.h"

#include <torch/torch.h>

#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>

namespace pyramidion {
namespace {

constexpr char kMagic[8] = {'P', 'Y', 'R', 'T', 'E', 'N', 'S', '\0'};
constexpr uint32_t kVersion = 1;

// Stable codes: c10::ScalarType's numbering is not a file format.
const std::vector<std::pair<torch::ScalarType, uint8_t>>& dtype_codes() {
  static const std::vector<std::pair<torch::ScalarType, uint8_t>> codes = {
      {torch::kFloat, 1}, {torch::kDouble, 2}, {torch::kBFloat16, 3}, {torch::kHalf, 4},  {torch::kLong, 5},
      {torch::kInt, 6},   {torch::kByte, 7},   {torch::kBool, 8},     {torch::kShort, 9}, {torch::kChar, 10}};
  return codes;
}

uint8_t code_of(torch::ScalarType type) {
  for (const auto& [t, c] : dtype_codes())
    if (t == type) return c;
  throw std::runtime_error(std::string("tensor archive: unsupported dtype ") + c10::toString(type));
}

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

class Reader {
 public:
  Reader(const std::string& bytes, const std::string& origin) : bytes_(bytes), origin_(origin) {}
  template <typename T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  const char* take(size_t n) {
    if (n > bytes_.size() - pos_) fail("truncated tensor archive");
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  bool done() const { return pos_ == bytes_.size(); }
  size_t remaining() const { return bytes_.size() - pos_; }
  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error(origin_ + ": " + what); }

 private:
  const std::string& bytes_;
  const std::string& origin_;
  size_t pos_ = 0;
};

std::string shape_text(torch::IntArrayRef shape) {
  std::ostringstream out;
  out << shape;
  return out.str();
}

}  // namespace

std::string serialize_tensors(const NamedTensors& tensors) {
  std::string out(kMagic, sizeof kMagic);
  put<uint32_t>(out, kVersion);
  put<uint64_t>(out, tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    put<uint32_t>(out, static_cast<uint32_t>(name.size()));
    out += name;
    put<uint8_t>(out, code_of(t.scalar_type()));
    put<uint32_t>(out, static_cast<uint32_t>(t.dim()));
    for (int64_t d : t.sizes()) put<int64_t>(out, d);
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    put<uint64_t>(out, nbytes);
    out.append(static_cast<const char*>(t.data_ptr()), nbytes);
  }
  return out;
}

NamedTensors parse_tensors(const std::string& bytes, const std::string& origin) {
  Reader in(bytes, origin);
  if (std::memcmp(in.take(sizeof kMagic), kMagic, sizeof kMagic) != 0) in.fail("not a tensor archive");
  const auto version = in.get<uint32_t>();
  if (version != kVersion) in.fail("tensor archive version " + std::to_string(version) + " is not supported");
  const auto count = in.get<uint64_t>();
  NamedTensors tensors;
  for (uint64_t i = 0; i < count; ++i) {
    const auto name_size = in.get<uint32_t>();
    std::string name(in.take(name_size), name_size);
    const auto code = in.get<uint8_t>();
    torch::ScalarType type = torch::kFloat;
    bool known = false;
    for (const auto& [t, c] : dtype_codes())
      if (c == code) type = t, known = true;
    if (!known) in.fail("tensor " + name + " has an unknown dtype code " + std::to_string(code));
    const auto dims = in.get<uint32_t>();
    if (dims > 16) in.fail("tensor " + name + " has " + std::to_string(dims) + " dimensions");
    std::vector<int64_t> shape(dims);
    uint64_t numel = 1;
    bool overflow = false;
    for (auto& d : shape) {
      d = in.get<int64_t>();
      if (d < 0) in.fail("tensor " + name + " has a negative dimension");
      overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel);
    }
    const auto nbytes = in.get<uint64_t>();
    // Sizes are checked against the bytes that are really there before anything is allocated: a crafted
    // shape must not make us allocate terabytes.
    uint64_t expected = 0;
    overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(c10::elementSize(type)), &expected);
    if (overflow || nbytes != expected)
      in.fail("tensor " + name + " holds " + std::to_string(nbytes) + " bytes for shape " + shape_text(shape));
    if (nbytes > in.remaining())
      in.fail("tensor " + name + " claims " + std::to_string(nbytes) + " bytes but the archive has only " +
              std::to_string(in.remaining()) + " left (truncated or corrupt)");
    auto tensor = torch::empty(shape, torch::TensorOptions().dtype(type));
    const char* bytes = in.take(nbytes);
    if (nbytes > 0) std::memcpy(tensor.data_ptr(), bytes, nbytes);  // an empty tensor has no storage (null data)
    tensors.emplace_back(std::move(name), std::move(tensor));
  }
  if (!in.done()) in.fail("trailing bytes after the tensor archive");
  return tensors;
}

NamedTensors module_tensors(const torch::nn::Module& module) {
  NamedTensors tensors;
  for (const auto& item : module.named_parameters()) tensors.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) tensors.emplace_back(item.key(), item.value());
  return tensors;
}

void load_module_tensors(torch::nn::Module& module, const NamedTensors& tensors, const std::string& origin) {
  std::map<std::string, const torch::Tensor*> saved;
  for (const auto& [name, tensor] : tensors) saved[name] = &tensor;
  torch::NoGradGuard no_grad;
  size_t used = 0;
  for (auto& [name, target] : module_tensors(module)) {
    auto it = saved.find(name);
    if (it == saved.end()) throw std::runtime_error(origin + ": the weights have no tensor " + name);
    if (it->second->sizes() != target.sizes())
      throw std::runtime_error(origin + ": " + name + " is " + shape_text(it->second->sizes()) +
                               " in the file but the model needs " + shape_text(target.sizes()));
    // int8 weights are quantized values, not numbers to convert: a float tensor where the model holds int8 (or the
    // reverse) is a wrong file, not a cast.
    if ((it->second->scalar_type() == torch::kChar) != (target.scalar_type() == torch::kChar))
      throw std::runtime_error(origin + ": " + name + " is " + c10::toString(it->second->scalar_type()) +
                               " in the file but the model needs " + c10::toString(target.scalar_type()));
    target.copy_(*it->second);
    ++used;
  }
  if (used != saved.size()) {
    for (const auto& [name, tensor] : saved) {
      bool known = false;
      for (const auto& [n, t] : module_tensors(module)) known = known || n == name;
      if (!known) throw std::runtime_error(origin + ": unexpected tensor " + name + " in the weights");
    }
  }
}

}  // namespace pyramidion
