#include "detail/unpickler.h"

#include "detail/byte_reader.h"

#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

namespace xfer::weights::detail {
namespace {

// Pickle opcodes (CPython Lib/pickle.py).
enum Op : uint8_t {
  kMark = '(', kStop = '.', kPop = '0', kPopMark = '1', kDup = '2', kBinFloat = 'G',
  kBinInt = 'J', kBinInt1 = 'K', kBinInt2 = 'M', kNone = 'N', kBinPersId = 'Q', kReduce = 'R',
  kBinString = 'T', kShortBinString = 'U', kBinUnicode = 'X', kBinBytes = 'B',
  kShortBinBytes = 'C', kAppend = 'a', kBuild = 'b', kGlobal = 'c', kDict = 'd', kEmptyDict = '}',
  kAppends = 'e', kBinGet = 'h', kLongBinGet = 'j', kList = 'l', kEmptyList = ']',
  kBinPut = 'q', kLongBinPut = 'r', kSetItem = 's', kTuple = 't', kEmptyTuple = ')',
  kSetItems = 'u', kProto = 0x80, kNewObj = 0x81, kTuple1 = 0x85, kTuple2 = 0x86,
  kTuple3 = 0x87, kNewTrue = 0x88, kNewFalse = 0x89, kLong1 = 0x8a, kLong4 = 0x8b,
  kShortBinUnicode = 0x8c, kBinUnicode8 = 0x8d, kBinBytes8 = 0x8e, kStackGlobal = 0x93,
  kMemoize = 0x94, kFrame = 0x95,
};

constexpr size_t kMaxDims = 64;
constexpr int64_t kMaxElements = int64_t{1} << 48;

const std::map<std::string, c10::ScalarType>& storage_types() {
  static const std::map<std::string, c10::ScalarType> types{
      {"torch.FloatStorage", c10::ScalarType::Float},
      {"torch.HalfStorage", c10::ScalarType::Half},
      {"torch.BFloat16Storage", c10::ScalarType::BFloat16},
      {"torch.DoubleStorage", c10::ScalarType::Double},
      {"torch.LongStorage", c10::ScalarType::Long},
      {"torch.IntStorage", c10::ScalarType::Int},
      {"torch.ShortStorage", c10::ScalarType::Short},
      {"torch.CharStorage", c10::ScalarType::Char},
      {"torch.ByteStorage", c10::ScalarType::Byte},
      {"torch.BoolStorage", c10::ScalarType::Bool},
  };
  return types;
}

const char* const kRebuildTensorV2 = "torch._utils._rebuild_tensor_v2";
const char* const kRebuildTensor = "torch._utils._rebuild_tensor";
const char* const kRebuildParameter = "torch._utils._rebuild_parameter";
const char* const kRebuildParameterWithState = "torch._utils._rebuild_parameter_with_state";
const char* const kOrderedDict = "collections.OrderedDict";

bool allowed_global(const std::string& name) {
  return name == kRebuildTensorV2 || name == kRebuildTensor || name == kRebuildParameter ||
         name == kRebuildParameterWithState || name == kOrderedDict ||
         storage_types().count(name) > 0;
}

const char* kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::None: return "None";
    case ValueKind::Bool: return "bool";
    case ValueKind::Int: return "int";
    case ValueKind::BigInt: return "int";
    case ValueKind::Float: return "float";
    case ValueKind::String: return "str";
    case ValueKind::Bytes: return "bytes";
    case ValueKind::Tuple: return "tuple";
    case ValueKind::List: return "list";
    case ValueKind::Dict: return "dict";
    case ValueKind::Global: return "global";
    case ValueKind::Storage: return "storage";
    case ValueKind::Tensor: return "tensor";
  }
  return "?";
}

class Unpickler {
 public:
  Unpickler(const std::string& bytes, size_t begin, const std::string& origin)
      : in_(bytes, begin, bytes.size(), origin) {}

  PickleGraph run() {
    while (true) {
      op_at_ = in_.pos();
      uint8_t op = in_.u8();
      if (op == kStop) {
        graph_.root = pop();
        graph_.end = in_.pos();
        return std::move(graph_);
      }
      step(op);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { in_.fail_at(op_at_, what); }

  PickleValue& at(ValueId id) { return graph_.values[id]; }

  ValueId add(PickleValue v) {
    graph_.values.push_back(std::move(v));
    return static_cast<ValueId>(graph_.values.size() - 1);
  }
  void push(ValueId id) { stack_.push_back(id); }
  void push_new(PickleValue v) { push(add(std::move(v))); }
  void push_kind(ValueKind k) {
    PickleValue v;
    v.kind = k;
    push_new(std::move(v));
  }

  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }

  ValueId pop() {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    ValueId id = stack_.back();
    stack_.pop_back();
    return id;
  }
  ValueId top() {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<ValueId> pop_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValueId> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }

  ValueId expect(ValueId id, ValueKind kind, const char* what) {
    if (at(id).kind != kind) {
      fail(std::string("expected ") + kind_name(kind) + " as " + what + ", found " +
           kind_name(at(id).kind));
    }
    return id;
  }

  int64_t int_of(ValueId id, const char* what) {
    return at(expect(id, ValueKind::Int, what)).integer;
  }

  void push_int(int64_t v) {
    PickleValue p;
    p.kind = ValueKind::Int;
    p.integer = v;
    push_new(std::move(p));
  }

  void push_text(ValueKind kind, std::string_view s) {
    PickleValue p;
    p.kind = kind;
    p.text = std::string(s);
    push_new(std::move(p));
  }

  void push_long(std::string_view b) {
    if (b.size() <= 8) {
      uint64_t u = ByteReader::le(b);
      if (!b.empty() && b.size() < 8 && (static_cast<uint8_t>(b.back()) & 0x80)) {
        u |= ~uint64_t{0} << (8 * b.size());
      }
      int64_t v;
      std::memcpy(&v, &u, sizeof v);
      push_int(v);
    } else {
      push_text(ValueKind::BigInt, b);
    }
  }

  std::string line() {
    std::string out;
    while (true) {
      char c = static_cast<char>(in_.u8());
      if (c == '\n') return out;
      if (out.size() >= 1024) fail("pickle GLOBAL name longer than 1024 bytes");
      out.push_back(c);
    }
  }

  void push_global(const std::string& module, const std::string& name) {
    std::string full = module + "." + name;
    if (!allowed_global(full)) {
      fail("refusing to load global '" + full +
           "' (only tensors, storages and collections.OrderedDict are allowed)");
    }
    push_text(ValueKind::Global, full);
  }

  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("pickle memo entry " + std::to_string(index) + " is not defined");
    push(it->second);
  }

  void append_items(const std::vector<ValueId>& items) {
    ValueId list = expect(top(), ValueKind::List, "the target of APPEND");
    auto& dst = at(list).items;
    dst.insert(dst.end(), items.begin(), items.end());
  }
  void set_items(const std::vector<ValueId>& items) {
    if (items.size() % 2 != 0) fail("pickle SETITEMS with an odd number of items");
    ValueId dict = expect(top(), ValueKind::Dict, "the target of SETITEM");
    auto& dst = at(dict).items;
    dst.insert(dst.end(), items.begin(), items.end());
  }

  void push_tuple(std::vector<ValueId> items) {
    PickleValue v;
    v.kind = ValueKind::Tuple;
    v.items = std::move(items);
    push_new(std::move(v));
  }

  std::string key_of(ValueId id) {
    const PickleValue& v = at(id);
    if (v.kind == ValueKind::String || v.kind == ValueKind::Bytes) return v.text;
    if (v.kind == ValueKind::Int) return std::to_string(v.integer);
    fail(std::string("expected a storage key (str), found ") + kind_name(v.kind));
  }

  // ('storage', StorageType, key, location, numel[, view_metadata]) → Storage.
  void persistent_load() {
    ValueId pid = pop();
    if (at(pid).kind != ValueKind::Tuple || at(pid).items.empty()) {
      fail(std::string("expected a tuple as persistent id, found ") + kind_name(at(pid).kind));
    }
    std::vector<ValueId> f = at(pid).items;
    const PickleValue& tag = at(f[0]);
    std::string type = tag.kind == ValueKind::String || tag.kind == ValueKind::Bytes ? tag.text : "";
    if (type == "module") {
      fail("refusing to load a pickled nn.Module class: the file holds a whole model, not a "
           "state_dict (save model.state_dict() instead)");
    }
    if (type != "storage") fail("unsupported persistent id (expected 'storage')");
    if (f.size() != 5 && f.size() != 6) {
      fail("expected 5 or 6 fields in a storage persistent id, found " + std::to_string(f.size()));
    }
    const PickleValue& st = at(expect(f[1], ValueKind::Global, "storage type"));
    auto type_it = storage_types().find(st.text);
    if (type_it == storage_types().end()) fail("'" + st.text + "' is not a storage type");
    PickleValue v;
    v.kind = ValueKind::Storage;
    v.storage.key = key_of(f[2]);
    v.storage.dtype = type_it->second;
    v.storage.root_numel = int_of(f[4], "storage size");
    if (v.storage.root_numel < 0 || v.storage.root_numel > kMaxElements) {
      fail("storage size " + std::to_string(v.storage.root_numel) + " out of range");
    }
    v.storage.numel = v.storage.root_numel;
    if (f.size() == 6 && at(f[5]).kind != ValueKind::None) {
      const PickleValue& view = at(expect(f[5], ValueKind::Tuple, "storage view"));
      if (view.items.size() != 3) fail("expected (key, offset, size) as storage view");
      std::vector<ValueId> vf = view.items;
      int64_t offset = int_of(vf[1], "storage view offset");
      int64_t numel = int_of(vf[2], "storage view size");
      if (offset < 0 || numel < 0 || offset > v.storage.root_numel ||
          numel > v.storage.root_numel - offset) {
        fail("storage view [" + std::to_string(offset) + ", +" + std::to_string(numel) +
             ") outside its storage of " + std::to_string(v.storage.root_numel) + " elements");
      }
      v.storage.offset = offset;
      v.storage.numel = numel;
    }
    push_new(std::move(v));
  }

  std::vector<int64_t> dims_of(ValueId id, const char* what) {
    std::vector<ValueId> items = at(expect(id, ValueKind::Tuple, what)).items;
    if (items.size() > kMaxDims) fail(std::string("too many dimensions in ") + what);
    std::vector<int64_t> out;
    for (ValueId item : items) {
      int64_t d = int_of(item, what);
      if (d < 0 || d > kMaxElements) fail(std::string("negative or huge value in ") + what);
      out.push_back(d);
    }
    return out;
  }

  PickleValue rebuild_tensor(const std::vector<ValueId>& args) {
    if (args.size() < 4) fail("expected at least 4 arguments to rebuild a tensor");
    PickleValue v;
    v.kind = ValueKind::Tensor;
    v.tensor.storage = at(expect(args[0], ValueKind::Storage, "tensor storage")).storage;
    v.tensor.offset = int_of(args[1], "tensor storage offset");
    v.tensor.sizes = dims_of(args[2], "tensor size");
    v.tensor.strides = dims_of(args[3], "tensor stride");
    const TensorRef& t = v.tensor;
    if (t.sizes.size() != t.strides.size()) fail("tensor size and stride differ in length");
    if (t.offset < 0 || t.offset > t.storage.numel) fail("tensor storage offset out of range");
    // The largest element index the view touches must lie inside the storage.
    __int128 last = t.offset, count = 1;
    for (size_t i = 0; i < t.sizes.size(); ++i) {
      count *= t.sizes[i];
      if (count > kMaxElements) fail("tensor has too many elements");
      if (t.sizes[i] > 0) last += static_cast<__int128>(t.sizes[i] - 1) * t.strides[i];
    }
    if (count > 0 && last >= t.storage.numel) {
      fail("tensor view (offset " + std::to_string(t.offset) + ") reaches element " +
           std::to_string(static_cast<int64_t>(last)) + " of a storage of " +
           std::to_string(t.storage.numel) + " elements");
    }
    return v;
  }

  void reduce() {
    std::vector<ValueId> args = at(expect(pop(), ValueKind::Tuple, "REDUCE arguments")).items;
    ValueId fn = expect(top(), ValueKind::Global, "REDUCE callable");
    std::string name = at(fn).text;
    PickleValue out;
    if (name == kOrderedDict) {
      if (!args.empty()) fail("expected OrderedDict() without arguments");
      out.kind = ValueKind::Dict;
    } else if (name == kRebuildTensorV2 || name == kRebuildTensor) {
      out = rebuild_tensor(args);
    } else if (name == kRebuildParameter || name == kRebuildParameterWithState) {
      if (args.empty()) fail("expected the data of a parameter");
      out = at(expect(args[0], ValueKind::Tensor, "parameter data"));
    } else {
      fail("global '" + name + "' is not callable");
    }
    stack_.back() = add(std::move(out));
  }

  void step(uint8_t op) {
    switch (op) {
      case kProto: {
        uint8_t version = in_.u8();
        if (version < 2 || version > 5) {
          fail("unsupported pickle protocol " + std::to_string(version) + " (expected 2 to 5)");
        }
        return;
      }
      case kFrame: in_.u64(); return;
      case kMark: marks_.push_back(stack_.size()); return;
      case kPop: pop(); return;
      case kPopMark: pop_mark(); return;
      case kDup: push(top()); return;
      case kNone: push_kind(ValueKind::None); return;
      case kNewTrue:
      case kNewFalse: {
        PickleValue v;
        v.kind = ValueKind::Bool;
        v.flag = op == kNewTrue;
        push_new(std::move(v));
        return;
      }
      case kBinInt: {
        uint32_t u = in_.u32();
        int32_t s;
        std::memcpy(&s, &u, sizeof s);
        push_int(s);
        return;
      }
      case kBinInt1: push_int(in_.u8()); return;
      case kBinInt2: push_int(in_.u16()); return;
      case kLong1: push_long(in_.take(in_.u8())); return;
      case kLong4: push_long(in_.take(in_.u32())); return;
      case kBinFloat: {
        std::string_view b = in_.take(8);
        uint64_t u = 0;
        for (char c : b) u = (u << 8) | static_cast<uint8_t>(c);  // big-endian
        PickleValue v;
        v.kind = ValueKind::Float;
        std::memcpy(&v.real, &u, sizeof u);
        push_new(std::move(v));
        return;
      }
      case kBinUnicode: push_text(ValueKind::String, in_.take(in_.u32())); return;
      case kShortBinUnicode: push_text(ValueKind::String, in_.take(in_.u8())); return;
      case kBinUnicode8: push_text(ValueKind::String, in_.take(in_.u64())); return;
      // Python 2 str: text in every checkpoint that uses it (keys, locations).
      case kBinString: push_text(ValueKind::String, in_.take(in_.u32())); return;
      case kShortBinString: push_text(ValueKind::String, in_.take(in_.u8())); return;
      case kBinBytes: push_text(ValueKind::Bytes, in_.take(in_.u32())); return;
      case kShortBinBytes: push_text(ValueKind::Bytes, in_.take(in_.u8())); return;
      case kBinBytes8: push_text(ValueKind::Bytes, in_.take(in_.u64())); return;
      case kEmptyTuple: push_tuple({}); return;
      case kTuple: push_tuple(pop_mark()); return;
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        size_t n = static_cast<size_t>(op - kTuple1 + 1);
        std::vector<ValueId> items(n);
        for (size_t i = n; i > 0; --i) items[i - 1] = pop();
        push_tuple(std::move(items));
        return;
      }
      case kEmptyList: push_kind(ValueKind::List); return;
      case kList: {
        PickleValue v;
        v.kind = ValueKind::List;
        v.items = pop_mark();
        push_new(std::move(v));
        return;
      }
      case kAppend: {
        ValueId item = pop();
        append_items({item});
        return;
      }
      case kAppends: append_items(pop_mark()); return;
      case kEmptyDict: push_kind(ValueKind::Dict); return;
      case kDict: {
        std::vector<ValueId> items = pop_mark();
        if (items.size() % 2 != 0) fail("pickle DICT with an odd number of items");
        PickleValue v;
        v.kind = ValueKind::Dict;
        v.items = std::move(items);
        push_new(std::move(v));
        return;
      }
      case kSetItem: {
        ValueId value = pop();
        ValueId key = pop();
        set_items({key, value});
        return;
      }
      case kSetItems: set_items(pop_mark()); return;
      case kBinPut: memo_put(in_.u8()); return;
      case kLongBinPut: memo_put(in_.u32()); return;
      case kMemoize: memo_put(memo_.size()); return;
      case kBinGet: memo_get(in_.u8()); return;
      case kLongBinGet: memo_get(in_.u32()); return;
      case kGlobal: {
        std::string module = line();
        std::string name = line();
        push_global(module, name);
        return;
      }
      case kStackGlobal: {
        std::string name = at(expect(pop(), ValueKind::String, "global name")).text;
        std::string module = at(expect(pop(), ValueKind::String, "global module")).text;
        push_global(module, name);
        return;
      }
      case kReduce: reduce(); return;
      case kBuild: {
        pop();
        // The only object state torch.save emits for allowed types is an OrderedDict's
        // attributes (a state_dict's `_metadata` versions): not weights, so dropped.
        expect(top(), ValueKind::Dict, "the target of BUILD");
        return;
      }
      case kBinPersId: persistent_load(); return;
      case kNewObj: fail("refusing pickle NEWOBJ (object construction)");
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }

  ByteReader in_;
  size_t op_at_ = 0;
  PickleGraph graph_;
  std::vector<ValueId> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValueId> memo_;
};

}  // namespace

PickleGraph unpickle(const std::string& bytes, size_t begin, const std::string& origin) {
  return Unpickler(bytes, begin, origin).run();
}

size_t element_size(c10::ScalarType dtype) { return c10::elementSize(dtype); }

}  // namespace xfer::weights::detail
