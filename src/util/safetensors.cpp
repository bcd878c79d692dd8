#include "pyramidion/util/safetensors.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/json_depth.h"

namespace pyramidion {
namespace {

const std::vector<std::pair<std::string, torch::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> names = {
      {"F32", torch::kFloat}, {"F16", torch::kHalf}, {"BF16", torch::kBFloat16}, {"F64", torch::kDouble},
      {"I64", torch::kLong},  {"I32", torch::kInt},  {"I16", torch::kShort},     {"I8", torch::kChar},
      {"U8", torch::kByte},   {"BOOL", torch::kBool}};
  return names;
}

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit (100 MB)

}  // namespace

SafetensorsContents parse_safetensors(const std::string& bytes, const std::string& origin) {
  auto fail = [&](const std::string& what) -> void { throw std::runtime_error(origin + ": " + what); };
  if (bytes.size() < 8) fail("truncated safetensors file (" + std::to_string(bytes.size()) + " bytes, no header size)");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = (header_size << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  if (header_size > kMaxHeader) fail("safetensors header size " + std::to_string(header_size) + " is implausible");
  if (header_size > bytes.size() - 8)
    fail("truncated safetensors file (header of " + std::to_string(header_size) + " bytes, file of " +
         std::to_string(bytes.size()) + ")");
  const std::string text = bytes.substr(8, header_size);
  if (!json_depth_ok(text)) fail(std::string("safetensors header: ") + json_depth_message());
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("safetensors header is not JSON (") + e.what() + ")");
  }
  if (!header.is_object()) fail("safetensors header is not a JSON object");
  const uint64_t data_begin = 8 + header_size, data_size = bytes.size() - data_begin;

  struct Entry {
    std::string name;
    torch::ScalarType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  SafetensorsContents out;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) fail("__metadata__ is not a JSON object");
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) fail("__metadata__." + key + " is not a string");
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor " + name;
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
      fail(where + ": expected {dtype, shape, data_offsets}");
    Entry e{name, torch::kFloat, {}, 0, 0};
    const auto& dtype = info["dtype"];
    auto known = std::find_if(dtype_names().begin(), dtype_names().end(),
                              [&](const auto& d) { return dtype.is_string() && d.first == dtype.get<std::string>(); });
    if (known == dtype_names().end()) fail(where + ": unsupported dtype " + dtype.dump());
    e.dtype = known->second;
    const auto& shape = info["shape"];
    if (!shape.is_array()) fail(where + ": shape is not an array");
    uint64_t numel = 1;
    for (const auto& s : shape) {
      if (!s.is_number_unsigned()) fail(where + ": shape " + shape.dump() + " is not a list of sizes");
      e.shape.push_back(s.get<int64_t>());
      numel *= s.get<uint64_t>();
    }
    const auto& offsets = info["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      fail(where + ": data_offsets is not [begin, end]");
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      fail(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] lie outside the " +
           std::to_string(data_size) + " data bytes (truncated file?)");
    const uint64_t expected = numel * c10::elementSize(e.dtype);
    if (e.end - e.begin != expected)
      fail(where + ": " + std::to_string(e.end - e.begin) + " data bytes for shape " + shape.dump() + " " +
           dtype.get<std::string>() + " (expected " + std::to_string(expected) + ")");
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  uint64_t next = 0;
  for (const Entry& e : entries) {
    if (e.begin != next) fail("tensor " + e.name + ": data does not follow the previous tensor (overlap or gap)");
    next = e.end;
  }
  if (next != data_size)
    fail(std::to_string(data_size - next) + " bytes after the last tensor (the header does not describe the data)");
  for (const Entry& e : entries) {
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), bytes.data() + data_begin + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

SafetensorsContents read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_safetensors(buffer.str(), path);
}

std::string serialize_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    auto known = std::find_if(dtype_names().begin(), dtype_names().end(),
                              [&](const auto& d) { return d.second == t.scalar_type(); });
    if (known == dtype_names().end())
      throw std::runtime_error("safetensors: tensor " + name + " has dtype " + c10::toString(t.scalar_type()) +
                               ", which the format cannot store");
    const uint64_t size = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", known->first}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + size}}};
    offset += size;
    data.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff));
  out += text;
  for (const auto& t : data)
    out.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size());
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomically(path, serialize_safetensors(tensors, metadata));
}

}  // namespace pyramidion
