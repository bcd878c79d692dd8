#include "pyramidion/models/model_file.h"

#include "pyramidion/data/tokenizer.h"

#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/json_depth.h"
#include "pyramidion/util/tensor_archive.h"

#include <torch/torch.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace pyramidion {
namespace {

constexpr char kMagic[8] = {'P', 'Y', 'R', 'M', 'O', 'D', 'E', 'L'};
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8;
constexpr size_t kTrailerSize = 8;

uint64_t fnv1a64(const char* data, size_t size) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) {
    hash ^= static_cast<unsigned char>(data[i]);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

template <typename T>
void put(std::string& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xff));
}

template <typename T>
T get(const std::string& in, size_t offset) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    value |= static_cast<uint64_t>(static_cast<unsigned char>(in[offset + i])) << (8 * i);
  return static_cast<T>(value);
}

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::runtime_error(path + ": " + message);
}

std::string shape_string(c10::IntArrayRef sizes) {
  std::ostringstream out;
  out << sizes;
  return out.str();
}

}  // namespace

void write_model_file_contents(const std::string& path, const ModelFileContents& contents) {
  const std::vector<std::pair<const char*, const std::string*>> sections = {{"CONF", &contents.config_yaml},
                                                                            {"TOKN", &contents.tokenizer_bytes},
                                                                            {"WGHT", &contents.weights},
                                                                            {"META", &contents.metadata_json}};
  uint64_t total = kHeaderSize + kTrailerSize;
  for (const auto& s : sections) total += 4 + 8 + s.second->size();
  std::string bytes;
  bytes.reserve(total);
  bytes.append(kMagic, sizeof(kMagic));
  put<uint32_t>(bytes, contents.int8 ? kModelFileInt8Version : kModelFileVersion);
  put<uint32_t>(bytes, static_cast<uint32_t>(sections.size()));
  put<uint64_t>(bytes, total);
  for (const auto& [tag, payload] : sections) {
    bytes.append(tag, 4);
    put<uint64_t>(bytes, payload->size());
    bytes.append(*payload);
  }
  put<uint64_t>(bytes, fnv1a64(bytes.data(), bytes.size()));

  write_file_atomically(path, bytes);
}

ModelFileContents read_model_file_contents(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a model file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the model file");
  std::string bytes;
  try {  // libstdc++ throws from the stream buffer on a read error ("basic_filebuf::underflow ...")
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    fail(path, "cannot read the model file (" + std::string(std::strerror(errno)) + ")");
  }
  const size_t magic_bytes = std::min(bytes.size(), sizeof(kMagic));
  if (std::memcmp(bytes.data(), kMagic, magic_bytes) != 0 || bytes.empty())
    fail(path, "not a pyramidion model file (bad magic)");
  if (bytes.size() < kHeaderSize)
    fail(path, "truncated model file (" + std::to_string(bytes.size()) + " bytes, header incomplete)");
  const uint32_t version = get<uint32_t>(bytes, 8);
  if (version != kModelFileVersion && version != kModelFileInt8Version)
    fail(path, "model file format version " + std::to_string(version) +
                   " is not supported (this build reads versions " + std::to_string(kModelFileVersion) + " and " +
                   std::to_string(kModelFileInt8Version) + ")");
  const uint32_t count = get<uint32_t>(bytes, 12);
  const uint64_t total = get<uint64_t>(bytes, 16);
  if (bytes.size() < total)
    fail(path, "truncated model file (" + std::to_string(bytes.size()) + " of " + std::to_string(total) + " bytes)");
  if (bytes.size() > total)
    fail(path, "corrupt model file (" + std::to_string(bytes.size() - total) + " unexpected bytes at the end)");
  const size_t body = bytes.size() - kTrailerSize;
  if (get<uint64_t>(bytes, body) != fnv1a64(bytes.data(), body)) fail(path, "corrupt model file (checksum mismatch)");

  std::map<std::string, std::string> sections;
  size_t offset = kHeaderSize;
  for (uint32_t i = 0; i < count; ++i) {
    if (offset + 12 > body) fail(path, "corrupt model file (section table runs past the end)");
    const std::string tag = bytes.substr(offset, 4);
    const uint64_t size = get<uint64_t>(bytes, offset + 4);
    offset += 12;
    if (size > body - offset) fail(path, "corrupt model file (section " + tag + " runs past the end)");
    sections[tag] = bytes.substr(offset, size);
    offset += size;
  }
  for (const char* tag : {"CONF", "TOKN", "WGHT", "META"})
    if (!sections.count(tag)) fail(path, std::string("corrupt model file (no ") + tag + " section)");
  return {sections["CONF"], sections["TOKN"], sections["WGHT"], sections["META"], version == kModelFileInt8Version};
}

void save_model_file(const std::string& path, SummarizationModel& model, const std::string& tokenizer_bytes,
                     const nlohmann::json& metadata) {
  ModelFileContents contents;
  contents.config_yaml = model->config().to_yaml_string();
  contents.tokenizer_bytes = tokenizer_bytes;
  nlohmann::json recorded = metadata;
  if (recorded.is_object() && !tokenizer_bytes.empty())  // checkpoints and the demo's model: what made the ids
    recorded["tokenizer_checksum"] = data::tokenizer_checksum_text(data::tokenizer_checksum(tokenizer_bytes));
  contents.metadata_json = recorded.dump();
  contents.weights = serialize_tensors(module_tensors(*model));
  contents.int8 = model->is_int8();
  write_model_file_contents(path, contents);
}

void load_model_weights(SummarizationModelImpl& model, const std::string& weights, const std::string& path) {
  NamedTensors tensors = parse_tensors(weights, path + " (weights)");
  // Name the usual cause of a shape mismatch.
  for (const auto& [name, tensor] : tensors) {
    if (name != "embed_tokens.weight" && name != "output_projection.weight") continue;
    if (tensor.dim() == 2 && tensor.size(0) != model.config().vocab_size)
      fail(path, "weights do not match the config: " + name + " is " + shape_string(tensor.sizes()) +
                     " (vocabulary size mismatch: the config says vocab_size " +
                     std::to_string(model.config().vocab_size) + ")");
  }
  try {
    load_module_tensors(model, tensors, path);
  } catch (const std::runtime_error& e) {
    fail(path, std::string("weights do not match the config: ") + (std::string(e.what()).substr(path.size() + 2)));
  }
}

LoadedModel load_model_file(const std::string& path, torch::Device device) {
  ModelFileContents contents = read_model_file_contents(path);
  LoadedModel loaded;
  try {
    loaded.config = ModelConfig::from_yaml_string(contents.config_yaml, path + " (config section)");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  // Bounded before parsing: printing or destroying JSON nested thousands deep recurses past the stack.
  if (!json_depth_ok(contents.metadata_json)) fail(path, std::string("metadata: ") + json_depth_message());
  try {
    loaded.metadata = nlohmann::json::parse(contents.metadata_json);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, "metadata is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::exception&) {
    fail(path, "metadata is not valid JSON (a number out of range)");
  }
  loaded.tokenizer_bytes = std::move(contents.tokenizer_bytes);
  if (loaded.metadata.is_object() && loaded.metadata.contains("tokenizer_checksum")) {  // absent before it existed
    const std::string actual = data::tokenizer_checksum_text(data::tokenizer_checksum(loaded.tokenizer_bytes));
    const auto& stored = loaded.metadata["tokenizer_checksum"];
    if (!stored.is_string() || stored.get<std::string>() != actual)
      fail(path, "the embedded tokenizer's checksum " + actual + " is not the recorded " + stored.dump());
  }
  loaded.model = SummarizationModel(loaded.config);
  loaded.int8 = contents.int8;
  if (contents.int8) loaded.model->prepare_int8();  // the file's int8 values and scales are copied in as they are

  load_model_weights(*loaded.model, contents.weights, path);
  // NaN or Inf weights (a diverged run, a damaged file) would only show as NaN scores deep inside generation.
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : loaded.model->named_parameters())
      if (!torch::isfinite(p.value()).all().item<bool>())
        fail(path, "weights: " + p.key() + " contains NaN or Inf (a diverged or damaged model)");
  }
  loaded.model->to(device);
  loaded.model->eval();
  return loaded;
}

}  // namespace pyramidion
