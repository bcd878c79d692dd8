#include "pyramidion/models/torch_save_reader.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>

namespace pyramidion {
namespace {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// What torch.save pickles; anything else (argparse.Namespace, omegaconf objects) becomes an opaque object.
struct Value {
  enum class Kind { none, boolean, integer, real, text, tuple, list, dict, global, tensor, storage, mark, opaque };
  Kind kind = Kind::none;
  int64_t integer = 0;
  double real = 0;
  std::string text;                                  // text; global: "module.name"; storage: the record key
  std::vector<ValuePtr> items;                       // tuple, list
  std::vector<std::pair<ValuePtr, ValuePtr>> pairs;  // dict
  torch::Tensor tensor;                              // tensor
  torch::ScalarType dtype = torch::kFloat;           // storage
};

ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

torch::ScalarType storage_dtype(const std::string& type, const std::string& path) {
  static const std::map<std::string, torch::ScalarType> types = {
      {"torch.FloatStorage", torch::kFloat}, {"torch.DoubleStorage", torch::kDouble},
      {"torch.HalfStorage", torch::kHalf},   {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kLong},   {"torch.IntStorage", torch::kInt},
      {"torch.ShortStorage", torch::kShort}, {"torch.CharStorage", torch::kChar},
      {"torch.ByteStorage", torch::kByte},   {"torch.BoolStorage", torch::kBool}};
  auto it = types.find(type);
  if (it == types.end()) throw std::runtime_error(path + ": unsupported tensor storage " + type);
  return it->second;
}

class Machine {
 public:
  // load_storages false: tensors are left undefined (for reading the other values of a large checkpoint).
  Machine(const std::string& path, caffe2::serialize::PyTorchStreamReader& reader, const char* data, size_t size,
          bool load_storages)
      : path_(path), reader_(reader), data_(data), size_(size), load_storages_(load_storages) {}

  ValuePtr run() {
    for (;;) {
      const auto op = static_cast<unsigned char>(take(1)[0]);
      switch (op) {
        case 0x80:
          take(1);
          break;  // PROTO
        case 0x95:
          take(8);
          break;  // FRAME
        case '.':
          return pop();  // STOP
        case '}':
          push(make(Value::Kind::dict));
          break;  // EMPTY_DICT
        case ']':
          push(make(Value::Kind::list));
          break;  // EMPTY_LIST
        case ')':
          push(make(Value::Kind::tuple));
          break;  // EMPTY_TUPLE
        case '(':
          push(make(Value::Kind::mark));
          break;  // MARK
        case 'N':
          push(make(Value::Kind::none));
          break;  // NONE
        case 0x88:
        case 0x89: {  // NEWTRUE, NEWFALSE
          auto v = make(Value::Kind::boolean);
          v->integer = op == 0x88;
          push(v);
          break;
        }
        case 'K':
          push_int(u(1));
          break;  // BININT1
        case 'M':
          push_int(u(2));
          break;  // BININT2
        case 'J':
          push_int(static_cast<int32_t>(u(4)));
          break;      // BININT
        case 0x8a: {  // LONG1
          const size_t n = static_cast<unsigned char>(take(1)[0]);
          if (n > 8) fail("integer too large");
          const char* b = take(n);
          uint64_t x = 0;
          for (size_t i = 0; i < n; ++i) x |= static_cast<uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
          if (n > 0 && n < 8 && (static_cast<unsigned char>(b[n - 1]) & 0x80)) x |= ~0ull << (8 * n);
          push_int(static_cast<int64_t>(x));
          break;
        }
        case 'G': {  // BINFLOAT (big-endian)
          const char* b = take(8);
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(b[i]);
          auto v = make(Value::Kind::real);
          std::memcpy(&v->real, &bits, 8);
          push(v);
          break;
        }
        case 'X':
          push_text(u(4));
          break;  // BINUNICODE
        case 0x8c:
        case 'U':
          push_text(u(1));
          break;  // SHORT_BINUNICODE, SHORT_BINSTRING
        case 'T':
          push_text(u(4));
          break;     // BINSTRING
        case 'c': {  // GLOBAL module\nname\n
          auto v = make(Value::Kind::global);
          v->text = line() + "." + line();
          push(v);
          break;
        }
        case 'q':
          memo_[u(1)] = top();
          break;  // BINPUT
        case 'r':
          memo_[u(4)] = top();
          break;  // LONG_BINPUT
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE
        case 'h':
          push(memo(u(1)));
          break;  // BINGET
        case 'j':
          push(memo(u(4)));
          break;     // LONG_BINGET
        case 't': {  // TUPLE
          auto v = make(Value::Kind::tuple);
          v->items = pop_to_mark();
          push(v);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          auto v = make(Value::Kind::tuple);
          v->items.resize(op - 0x84);
          for (size_t i = v->items.size(); i-- > 0;) v->items[i] = pop();
          push(v);
          break;
        }
        case 'a': {
          auto x = pop();
          top()->items.push_back(x);
          break;
        }  // APPEND
        case 'e': {
          auto xs = pop_to_mark();
          auto l = top();
          l->items.insert(l->items.end(), xs.begin(), xs.end());
          break;
        }
        case 's': {
          auto v = pop();
          auto k = pop();
          top()->pairs.emplace_back(k, v);
          break;
        }            // SETITEM
        case 'u': {  // SETITEMS
          auto xs = pop_to_mark();
          if (xs.size() % 2) fail("odd SETITEMS");
          for (size_t i = 0; i < xs.size(); i += 2) top()->pairs.emplace_back(xs[i], xs[i + 1]);
          break;
        }
        case 'b': {  // BUILD: an object's state
          auto state = pop();
          // argparse.Namespace: its attributes; an OrderedDict's (_metadata) are dropped.
          if (top()->kind == Value::Kind::opaque && state->kind == Value::Kind::dict) top()->pairs = state->pairs;
          break;
        }
        case 'Q':
          push(persistent(pop()));
          break;  // BINPERSID
        case 'R': {
          auto args = pop();
          auto callable = pop();
          push(reduce(*callable, *args));
          break;
        }
        case 0x81: {
          pop();
          pop();
          push(make(Value::Kind::opaque));
          break;
        }  // NEWOBJ
        default:
          fail("unsupported pickle opcode 0x" + hex(op));
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error(path_ + ": data.pkl: " + what); }
  static std::string hex(unsigned v) {
    const char* d = "0123456789abcdef";
    return std::string{d[(v >> 4) & 15], d[v & 15]};
  }
  const char* take(size_t n) {
    if (n > size_ - pos_) fail("truncated pickle");
    const char* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint64_t u(size_t n) {
    const char* b = take(n);
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) x |= static_cast<uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
    return x;
  }
  std::string line() {
    std::string out;
    for (char c = *take(1); c != '\n'; c = *take(1)) out.push_back(c);
    return out;
  }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  void push_int(int64_t x) {
    auto v = make(Value::Kind::integer);
    v->integer = x;
    push(v);
  }
  void push_text(uint64_t n) {
    auto v = make(Value::Kind::text);
    v->text.assign(take(n), n);
    push(v);
  }
  ValuePtr pop() {
    if (stack_.empty()) fail("stack underflow");
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    std::vector<ValuePtr> out;
    for (ValuePtr v = pop(); v->kind != Value::Kind::mark; v = pop()) out.insert(out.begin(), v);
    return out;
  }
  ValuePtr memo(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("unknown memo entry " + std::to_string(key));
    return it->second;
  }

  // ('storage', torch.XStorage, key, location, numel) -> the storage record data/<key> as a flat tensor.
  ValuePtr persistent(const ValuePtr& pid) {
    if (pid->kind != Value::Kind::tuple || pid->items.size() < 3 || pid->items[0]->text != "storage")
      fail("unsupported persistent id");
    auto v = make(Value::Kind::storage);
    v->dtype = storage_dtype(pid->items[1]->text, path_);
    v->text = pid->items[2]->text;
    if (!load_storages_) return v;
    auto cached = storages_.find(v->text);
    if (cached == storages_.end()) {
      const std::string record = "data/" + v->text;
      if (!reader_.hasRecord(record)) fail("missing record " + record);
      auto [data, bytes] = reader_.getRecord(record);
      const size_t element = c10::elementSize(v->dtype);
      torch::Tensor flat =
          torch::empty({static_cast<int64_t>(bytes / element)}, torch::TensorOptions().dtype(v->dtype));
      if (flat.numel() > 0) std::memcpy(flat.data_ptr(), data.get(), flat.numel() * element);  // empty: null data
      cached = storages_.emplace(v->text, flat).first;
    }
    v->tensor = cached->second;
    return v;
  }

  std::vector<int64_t> ints(const Value& tuple) const {
    std::vector<int64_t> out;
    for (const auto& item : tuple.items) out.push_back(item->integer);
    return out;
  }

  ValuePtr reduce(const Value& callable, const Value& args) {
    const std::string& name = callable.kind == Value::Kind::global ? callable.text : std::string();
    if (name == "collections.OrderedDict") return make(Value::Kind::dict);
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      if (args.items.size() < 4 || args.items[0]->kind != Value::Kind::storage) fail("bad " + name + " arguments");
      if (!load_storages_) return make(Value::Kind::tensor);
      const torch::Tensor& storage = args.items[0]->tensor;
      const auto sizes = ints(*args.items[2]), strides = ints(*args.items[3]);
      const int64_t offset = args.items[1]->integer;
      if (sizes.size() != strides.size()) fail("bad " + name + " arguments");
      int64_t last = offset, numel = 1;
      for (size_t i = 0; i < sizes.size(); ++i) {
        numel *= sizes[i];
        last += sizes[i] > 0 ? (sizes[i] - 1) * strides[i] : 0;
      }
      if (numel > 0 && last >= storage.numel()) fail("a tensor reaches beyond its storage (truncated record?)");
      auto v = make(Value::Kind::tensor);
      if (!load_storages_) return v;
      v->tensor = storage.as_strided(sizes, strides, offset).clone();
      return v;
    }
    if (name == "torch._utils._rebuild_parameter") {
      if (args.items.empty() || args.items[0]->kind != Value::Kind::tensor) fail("bad _rebuild_parameter arguments");
      return args.items[0];
    }
    return make(Value::Kind::opaque);  // argparse.Namespace and the like: kept out of the way
  }

  const std::string& path_;
  caffe2::serialize::PyTorchStreamReader& reader_;
  const char* data_;
  size_t size_;
  bool load_storages_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::map<uint64_t, ValuePtr> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

ValuePtr load_entry(const std::string& path, const std::string& entry, bool load_storages) {
  ValuePtr root;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    auto [data, size] = reader.getRecord("data.pkl");
    Machine machine(path, reader, static_cast<const char*>(data.get()), size, load_storages);
    root = machine.run();
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw std::runtime_error(path + ": not a readable torch.save zip archive (" + what.substr(0, what.find('\n')) +
                             ")");
  }
  if (entry.empty()) return root;
  if (root->kind == Value::Kind::dict)
    for (const auto& [k, v] : root->pairs)
      if (k->kind == Value::Kind::text && k->text == entry) return v;
  throw std::runtime_error(path + ": no '" + entry + "' entry");
}

nlohmann::json to_json(const Value& v) {
  switch (v.kind) {
    case Value::Kind::boolean:
      return v.integer != 0;
    case Value::Kind::integer:
      return v.integer;
    case Value::Kind::real:
      return v.real;
    case Value::Kind::text:
      return v.text;
    case Value::Kind::tuple:
    case Value::Kind::list: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : v.items) out.push_back(to_json(*item));
      return out;
    }
    case Value::Kind::dict:
    case Value::Kind::opaque: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& [k, value] : v.pairs)
        if (k->kind == Value::Kind::text) out[k->text] = to_json(*value);
      return out;
    }
    default:
      return nullptr;
  }
}

}  // namespace

NamedTensors read_torch_save_tensors(const std::string& path, const std::string& entry) {
  const ValuePtr root = load_entry(path, entry, /*load_storages=*/true);
  if (root->kind != Value::Kind::dict) throw std::runtime_error(path + ": not a state dict");
  NamedTensors out;
  for (const auto& [k, v] : root->pairs)
    if (k->kind == Value::Kind::text && v->kind == Value::Kind::tensor) out.emplace_back(k->text, v->tensor);
  return out;
}

nlohmann::json read_torch_save_values(const std::string& path, const std::string& entry) {
  return to_json(*load_entry(path, entry, /*load_storages=*/false));
}

}  // namespace pyramidion
