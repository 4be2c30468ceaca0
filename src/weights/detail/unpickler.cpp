#include "detail/unpickler.h"

#include "detail/byte_reader.h"

#include <c10/util/Half.h>

#include <cstring>
#include <map>
#include <optional>
#include <set>
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
  kShortBinUnicode = 0x8c, kBinUnicode8 = 0x8d, kBinBytes8 = 0x8e, kEmptySet = 0x8f,
  kAddItems = 0x90, kFrozenSet = 0x91, kNewObjEx = 0x92, kStackGlobal = 0x93, kMemoize = 0x94,
  kFrame = 0x95, kByteArray8 = 0x96,
};

constexpr size_t kMaxDims = 64;
constexpr int64_t kMaxElements = int64_t{1} << 48;

struct StorageType {
  c10::ScalarType dtype;
  const char* quantized;
};

const std::map<std::string, StorageType>& storage_types() {
  static const std::map<std::string, StorageType> types{
      {"torch.FloatStorage", {c10::ScalarType::Float, ""}},
      {"torch.HalfStorage", {c10::ScalarType::Half, ""}},
      {"torch.BFloat16Storage", {c10::ScalarType::BFloat16, ""}},
      {"torch.DoubleStorage", {c10::ScalarType::Double, ""}},
      {"torch.LongStorage", {c10::ScalarType::Long, ""}},
      {"torch.IntStorage", {c10::ScalarType::Int, ""}},
      {"torch.ShortStorage", {c10::ScalarType::Short, ""}},
      {"torch.CharStorage", {c10::ScalarType::Char, ""}},
      {"torch.ByteStorage", {c10::ScalarType::Byte, ""}},
      {"torch.BoolStorage", {c10::ScalarType::Bool, ""}},
      // Quantized storages hold the integer representation.
      {"torch.QInt8Storage", {c10::ScalarType::Char, "qint8"}},
      {"torch.QUInt8Storage", {c10::ScalarType::Byte, "quint8"}},
      {"torch.QInt32Storage", {c10::ScalarType::Int, "qint32"}},
  };
  return types;
}

// What an allowed global means to xfer. Nothing is ever called: each role is interpreted here.
enum class Role {
  kStorageType,       // only inside a storage persistent id
  kRebuildTensor,     // torch._utils._rebuild_tensor(_v2)(storage, offset, size, stride, ...)
  kRebuildQTensor,    // torch._utils._rebuild_qtensor(..., quantizer_params, ...)
  kRebuildParameter,  // _rebuild_parameter(data, ...), nn.Parameter(data, ...)
  kOrderedDict,
  kSet,
  kDevice,            // torch.device('cuda', 0): kept as a printable value
  kSize,              // torch.Size((2, 3)): a tuple
  kNamespace,         // argparse.Namespace: an object of attributes
  kModuleClass,       // torch.nn.modules.*.*: an object whose state is read as a state_dict
  kBackend,           // torch.nn.backends.thnn._get_thnn_function_backend(): nothing
  kNumpyReconstruct,  // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') + BUILD
  kNumpyScalar,       // numpy.core.multiarray.scalar(dtype, bytes)
  kNumpyDtype,        // numpy.dtype('f8', False, True) + BUILD
  kCodecsEncode,      // _codecs.encode(text, 'latin1'): how protocol 2 writes bytes
  kValue,             // a constant used as a value: torch.qint8, torch.per_tensor_affine, ...
};

const std::map<std::string, Role>& named_roles() {
  static const std::map<std::string, Role> roles = [] {
    std::map<std::string, Role> r{
        {"torch._utils._rebuild_tensor", Role::kRebuildTensor},
        {"torch._utils._rebuild_tensor_v2", Role::kRebuildTensor},
        {"torch._utils._rebuild_qtensor", Role::kRebuildQTensor},
        {"torch._utils._rebuild_parameter", Role::kRebuildParameter},
        {"torch._utils._rebuild_parameter_with_state", Role::kRebuildParameter},
        {"torch.nn.parameter.Parameter", Role::kRebuildParameter},
        {"collections.OrderedDict", Role::kOrderedDict},
        {"builtins.set", Role::kSet},
        {"builtins.frozenset", Role::kSet},
        {"__builtin__.set", Role::kSet},
        {"__builtin__.frozenset", Role::kSet},
        {"torch.device", Role::kDevice},
        {"torch.Size", Role::kSize},
        {"argparse.Namespace", Role::kNamespace},
        {"torch.nn.backends.thnn._get_thnn_function_backend", Role::kBackend},
        {"numpy.core.multiarray._reconstruct", Role::kNumpyReconstruct},
        {"numpy._core.multiarray._reconstruct", Role::kNumpyReconstruct},
        {"numpy.core.multiarray.scalar", Role::kNumpyScalar},
        {"numpy._core.multiarray.scalar", Role::kNumpyScalar},
        {"numpy.dtype", Role::kNumpyDtype},
        {"numpy.ndarray", Role::kValue},
        {"_codecs.encode", Role::kCodecsEncode},
    };
    for (const char* value :
         {"float32", "float", "float64", "double", "float16", "half", "bfloat16", "int8", "uint8",
          "int16", "short", "int32", "int", "int64", "long", "bool", "complex64", "complex128",
          "cfloat", "cdouble", "qint8", "quint8", "qint32", "quint4x2", "per_tensor_affine",
          "per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric",
          "per_channel_affine_float_qparams", "strided", "sparse_coo", "contiguous_format",
          "channels_last", "channels_last_3d", "preserve_format"}) {
      r.emplace(std::string("torch.") + value, Role::kValue);
    }
    for (const auto& [name, type] : storage_types()) r.emplace(name, Role::kStorageType);
    return r;
  }();
  return roles;
}

std::optional<Role> role_of(const std::string& name) {
  auto it = named_roles().find(name);
  if (it != named_roles().end()) return it->second;
  if (is_module_class(name)) return Role::kModuleClass;
  return std::nullopt;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

// Why a global is refused, in the words a user needs to decide what to do.
std::string refusal_reason(const std::string& name) {
  const std::string module = name.substr(0, name.rfind('.'));
  const std::string attribute = name.substr(name.rfind('.') + 1);
  static const std::set<std::string> system_modules{
      "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "pty",
      "code", "ctypes", "marshal", "pickle", "shelve", "webbrowser", "io", "pathlib", "commands",
      "platform", "multiprocessing", "threading", "signal", "tempfile", "glob"};
  static const std::set<std::string> code_builtins{
      "eval", "exec", "execfile", "compile", "getattr", "setattr", "delattr", "__import__",
      "open", "file", "input", "globals", "locals", "vars", "apply", "reload", "breakpoint"};
  std::string what;
  if (starts_with(name, "__torch__.")) {
    what = "a TorchScript class (the file is a TorchScript archive: torch.jit.load reads it)";
  } else if (system_modules.count(module.substr(0, module.find('.')))) {
    what = "a function that runs commands or touches the system";
  } else if ((module == "builtins" || module == "__builtin__") && code_builtins.count(attribute)) {
    what = "a built-in function that can run code";
  } else if (module == "builtins" || module == "__builtin__") {
    what = "a Python built-in xfer does not interpret";
  } else if (module == "torch" || starts_with(name, "torch.")) {
    what = "a torch function or class xfer does not interpret (it rebuilds tensors itself and "
           "calls nothing)";
  } else if (module == "collections") {
    what = "a Python container xfer does not read (it reads dict, OrderedDict, list, tuple and "
           "set)";
  } else if (module == "numpy" || starts_with(name, "numpy.")) {
    what = "a numpy function or type xfer does not interpret (it reads numeric arrays and "
           "scalars)";
  } else {
    what = "a user class";
  }
  return "global '" + name + "', which is not a tensor type (" + what +
         ": xfer reads only tensors, containers and a few safe types)";
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
    case ValueKind::Set: return "set";
    case ValueKind::Global: return "global";
    case ValueKind::Object: return "object";
    case ValueKind::Storage: return "storage";
    case ValueKind::Tensor: return "tensor";
  }
  return "?";
}

// A numpy dtype as xfer can hold it: the LibTorch dtype of the same bits and, where LibTorch has
// no dtype of that name, numpy's name for it.
struct NumpyType {
  bool ok = false;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  std::string file_dtype;
  std::string descr;
  size_t itemsize = 0;
};

}  // namespace

bool is_module_class(const std::string& name) {
  // torch.nn.modules.<file>.<Class>: at least two components after the package.
  const std::string prefix = "torch.nn.modules.";
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string rest = name.substr(prefix.size());
  const size_t dot = rest.find('.');
  return dot != std::string::npos && dot > 0 && dot + 1 < rest.size();
}

namespace {

class Unpickler {
 public:
  Unpickler(const std::string& bytes, size_t begin, const std::string& origin)
      : in_(bytes, begin, bytes.size(), origin), origin_(origin) {}

  PickleGraph run() {
    try {
      while (true) {
        op_at_ = in_.pos();
        uint8_t op = in_.u8();
        if (op == kStop) {
          graph_.root = pop();
          graph_.end = in_.pos();
          break;
        }
        step(op);
      }
    } catch (const FormatError&) {
      // A pickle that names a refused global often goes on with opcodes only its class explains;
      // the refusal is the cause worth reporting.
      if (!refused_.empty()) refuse();
      throw;
    }
    if (!refused_.empty()) refuse();
    return std::move(graph_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { in_.fail_at(op_at_, what); }

  [[noreturn]] void refuse() const {
    std::string what = "refused: the pickle needs " + refusal_reason(refused_[0].first);
    for (size_t i = 1; i < refused_.size(); ++i) {
      what += (i == 1 ? "; it also needs " : ", ") + std::string("'") + refused_[i].first + "'";
    }
    in_.fail_at(refused_[0].second, what);
  }

  PickleValue& at(ValueId id) { return graph_.values[id]; }

  ValueId add(PickleValue v) {
    if (graph_.values.size() >= kNoValue - 1) fail("too many pickle values");
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

  const std::string& text_of(ValueId id, const char* what) {
    const PickleValue& v = at(id);
    if (v.kind != ValueKind::String && v.kind != ValueKind::Bytes) {
      fail(std::string("expected str as ") + what + ", found " + kind_name(v.kind));
    }
    return v.text;
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
    PickleValue v;
    v.kind = ValueKind::Global;
    v.text = module + "." + name;
    if (!role_of(v.text)) {
      v.refused = true;
      bool seen = false;
      for (const auto& r : refused_) seen = seen || r.first == v.text;
      if (!seen) refused_.emplace_back(v.text, op_at_);
    }
    push_new(std::move(v));
  }

  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("pickle memo entry " + std::to_string(index) + " is not defined");
    push(it->second);
  }

  void append_items(const std::vector<ValueId>& items) {
    if (at(top()).refused) return;  // a refused list subclass: the pickle is refused anyway
    ValueId list = expect(top(), ValueKind::List, "the target of APPEND");
    auto& dst = at(list).items;
    dst.insert(dst.end(), items.begin(), items.end());
  }
  void set_items(const std::vector<ValueId>& items) {
    if (items.size() % 2 != 0) fail("pickle SETITEMS with an odd number of items");
    if (at(top()).refused) return;  // a refused dict subclass (Counter, defaultdict)
    ValueId dict = expect(top(), ValueKind::Dict, "the target of SETITEM");
    auto& dst = at(dict).items;
    dst.insert(dst.end(), items.begin(), items.end());
  }
  void add_to_set(const std::vector<ValueId>& items) {
    ValueId set = expect(top(), ValueKind::Set, "the target of ADDITEMS");
    auto& dst = at(set).items;
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

  // ('storage', StorageType, key, location, numel[, view_metadata]) → Storage;
  // ('module', ModuleClass, source file, source) → the class (legacy whole-module pickles).
  void persistent_load() {
    ValueId pid = pop();
    if (at(pid).kind != ValueKind::Tuple || at(pid).items.empty()) {
      fail(std::string("expected a tuple as persistent id, found ") + kind_name(at(pid).kind));
    }
    std::vector<ValueId> f = at(pid).items;
    const PickleValue& tag = at(f[0]);
    std::string type =
        tag.kind == ValueKind::String || tag.kind == ValueKind::Bytes ? tag.text : "";
    if (type == "module") {
      if (f.size() < 2 || at(f[1]).kind != ValueKind::Global) {
        fail("expected ('module', class, ...) as persistent id");
      }
      const PickleValue& cls = at(f[1]);
      if (!cls.refused && !is_module_class(cls.text)) {
        fail("'" + cls.text + "' in a module persistent id is not a torch.nn module class");
      }
      push(f[1]);
      return;
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
    v.storage.dtype = type_it->second.dtype;
    v.storage.quantized = type_it->second.quantized;
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

  // The largest element index a view touches must lie inside `numel` elements.
  void check_view(const TensorRef& t, int64_t numel) {
    if (t.sizes.size() != t.strides.size()) fail("tensor size and stride differ in length");
    if (t.offset < 0 || t.offset > numel) fail("tensor storage offset out of range");
    __int128 last = t.offset, count = 1;
    for (size_t i = 0; i < t.sizes.size(); ++i) {
      count *= t.sizes[i];
      if (count > kMaxElements) fail("tensor has too many elements");
      if (t.sizes[i] > 0) last += static_cast<__int128>(t.sizes[i] - 1) * t.strides[i];
    }
    if (count > 0 && last >= numel) {
      fail("tensor view (offset " + std::to_string(t.offset) + ") reaches element " +
           std::to_string(static_cast<int64_t>(last)) + " of a storage of " +
           std::to_string(numel) + " elements");
    }
  }

  PickleValue rebuild_tensor(const std::vector<ValueId>& args) {
    if (args.size() < 4) fail("expected at least 4 arguments to rebuild a tensor");
    PickleValue v;
    v.kind = ValueKind::Tensor;
    v.tensor.storage = at(expect(args[0], ValueKind::Storage, "tensor storage")).storage;
    v.tensor.offset = int_of(args[1], "tensor storage offset");
    v.tensor.sizes = dims_of(args[2], "tensor size");
    v.tensor.strides = dims_of(args[3], "tensor stride");
    v.tensor.file_dtype = v.tensor.storage.quantized;
    check_view(v.tensor, v.tensor.storage.numel);
    return v;
  }

  // _rebuild_qtensor(storage, offset, size, stride, quantizer_params, requires_grad, hooks):
  // quantizer_params = (torch.per_tensor_affine, scale, zero_point) or
  // (torch.per_channel_affine[_float_qparams], scales, zero_points, axis).
  PickleValue rebuild_qtensor(const std::vector<ValueId>& args) {
    if (args.size() < 5) fail("expected at least 5 arguments to rebuild a quantized tensor");
    PickleValue v = rebuild_tensor(args);
    if (v.tensor.storage.quantized.empty()) {
      fail("a quantized tensor on storage type " +
           std::string(c10::toString(v.tensor.storage.dtype)) +
           " (expected torch.QInt8Storage, QUInt8Storage or QInt32Storage)");
    }
    std::vector<ValueId> q = at(expect(args[4], ValueKind::Tuple, "quantizer parameters")).items;
    if (q.empty()) fail("empty quantizer parameters");
    const PickleValue& scheme = at(expect(q[0], ValueKind::Global, "quantization scheme"));
    TensorRef& t = v.tensor;
    t.qscheme = scheme.text.substr(scheme.text.rfind('.') + 1);
    if (scheme.text == "torch.per_tensor_affine") {
      if (q.size() != 3) fail("expected (per_tensor_affine, scale, zero_point)");
      const PickleValue& scale = at(q[1]);
      if (scale.kind == ValueKind::Float) {
        t.scale = scale.real;
      } else {
        t.scale = static_cast<double>(int_of(q[1], "quantization scale"));
      }
      t.zero_point = int_of(q[2], "quantization zero point");
    } else if (scheme.text == "torch.per_channel_affine" ||
               scheme.text == "torch.per_channel_affine_float_qparams") {
      if (q.size() != 4) fail("expected (" + t.qscheme + ", scales, zero_points, axis)");
      t.scales = expect(q[1], ValueKind::Tensor, "per-channel scales");
      t.zero_points = expect(q[2], ValueKind::Tensor, "per-channel zero points");
      t.axis = int_of(q[3], "per-channel axis");
      if (t.axis < 0 || static_cast<size_t>(t.axis) >= t.sizes.size()) {
        fail("per-channel axis " + std::to_string(t.axis) + " of a " +
             std::to_string(t.sizes.size()) + "-dimensional tensor");
      }
      for (ValueId id : {t.scales, t.zero_points}) {
        const TensorRef& p = at(id).tensor;
        if (p.sizes.size() != 1 || p.sizes[0] != t.sizes[static_cast<size_t>(t.axis)]) {
          fail("per-channel parameters do not have one entry per channel of axis " +
               std::to_string(t.axis));
        }
      }
    } else {
      fail("unsupported quantization scheme '" + scheme.text + "'");
    }
    return v;
  }

  NumpyType numpy_type(ValueId id) {
    const PickleValue& d = at(id);
    if (d.kind != ValueKind::Object || d.text != "numpy.dtype" || d.items.empty()) {
      fail(std::string("expected a numpy dtype, found ") + kind_name(d.kind));
    }
    NumpyType t;
    t.descr = text_of(d.items[0], "numpy dtype");
    std::string descr = t.descr;
    char order = '=';
    if (!descr.empty() && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' ||
                           descr[0] == '=')) {
      order = descr[0];
      descr = descr.substr(1);
    }
    if (d.state != kNoValue && at(d.state).kind == ValueKind::Tuple &&
        at(d.state).items.size() >= 2) {
      const PickleValue& o = at(at(d.state).items[1]);
      if ((o.kind == ValueKind::String || o.kind == ValueKind::Bytes) && o.text.size() == 1) {
        order = o.text[0];
      }
    }
    static const std::map<std::string, std::pair<c10::ScalarType, const char*>> types{
        {"f2", {c10::ScalarType::Half, ""}},     {"f4", {c10::ScalarType::Float, ""}},
        {"f8", {c10::ScalarType::Double, ""}},   {"i1", {c10::ScalarType::Char, ""}},
        {"i2", {c10::ScalarType::Short, ""}},    {"i4", {c10::ScalarType::Int, ""}},
        {"i8", {c10::ScalarType::Long, ""}},     {"u1", {c10::ScalarType::Byte, ""}},
        {"b1", {c10::ScalarType::Bool, ""}},     {"u2", {c10::ScalarType::Short, "uint16"}},
        {"u4", {c10::ScalarType::Int, "uint32"}}, {"u8", {c10::ScalarType::Long, "uint64"}},
    };
    auto it = types.find(descr);
    if (it == types.end()) return t;
    t.dtype = it->second.first;
    t.file_dtype = it->second.second;
    t.itemsize = c10::elementSize(t.dtype);
    // Big-endian data would need swapping; xfer reads little-endian files only.
    t.ok = order != '>' || t.itemsize == 1;
    return t;
  }

  // numpy.core.multiarray.scalar(dtype, bytes): a Python number.
  PickleValue numpy_scalar(const std::vector<ValueId>& args) {
    if (args.size() != 2) fail("expected (dtype, bytes) for a numpy scalar");
    NumpyType t = numpy_type(args[0]);
    const std::string& data = text_of(args[1], "numpy scalar data");
    PickleValue v;
    if (!t.ok || !t.file_dtype.empty() || data.size() != t.itemsize) {
      v.kind = ValueKind::Object;
      v.text = "numpy." + t.descr;
      v.items = args;
      return v;
    }
    const char* p = data.data();
    auto load = [&](auto sample) {
      decltype(sample) x;
      std::memcpy(&x, p, sizeof x);
      return x;
    };
    switch (t.dtype) {
      case c10::ScalarType::Half: {
        v.kind = ValueKind::Float;
        v.real = static_cast<float>(c10::Half(load(uint16_t{}), c10::Half::from_bits()));
        break;
      }
      case c10::ScalarType::Float: v.kind = ValueKind::Float; v.real = load(float{}); break;
      case c10::ScalarType::Double: v.kind = ValueKind::Float; v.real = load(double{}); break;
      case c10::ScalarType::Char: v.kind = ValueKind::Int; v.integer = load(int8_t{}); break;
      case c10::ScalarType::Short: v.kind = ValueKind::Int; v.integer = load(int16_t{}); break;
      case c10::ScalarType::Int: v.kind = ValueKind::Int; v.integer = load(int32_t{}); break;
      case c10::ScalarType::Long: v.kind = ValueKind::Int; v.integer = load(int64_t{}); break;
      case c10::ScalarType::Byte: v.kind = ValueKind::Int; v.integer = load(uint8_t{}); break;
      case c10::ScalarType::Bool: v.kind = ValueKind::Bool; v.flag = load(uint8_t{}) != 0; break;
      default: fail("unexpected numpy scalar type");
    }
    return v;
  }

  // BUILD of an array made by numpy.core.multiarray._reconstruct: the state is
  // ([version,] shape, dtype, is_fortran, data). Numeric arrays become tensors (their bytes held
  // inline); others stay an object that is listed but not read.
  void build_ndarray(ValueId target, ValueId state) {
    std::vector<ValueId> s = at(expect(state, ValueKind::Tuple, "numpy array state")).items;
    if (s.size() == 5) s.erase(s.begin());
    if (s.size() != 4) fail("expected (version, shape, dtype, is_fortran, data) as array state");
    std::vector<int64_t> shape = dims_of(s[0], "numpy array shape");
    NumpyType t = numpy_type(s[1]);
    const PickleValue& fortran = at(s[2]);
    bool is_fortran = fortran.kind == ValueKind::Bool ? fortran.flag
                                                      : int_of(s[2], "numpy is_fortran") != 0;
    const PickleValue& data = at(s[3]);
    PickleValue& array = at(target);
    array.state = state;
    if (!t.ok || (data.kind != ValueKind::Bytes && data.kind != ValueKind::String)) return;
    unsigned __int128 numel = 1;
    for (int64_t d : shape) {
      numel *= static_cast<uint64_t>(d);
      if (numel > data.text.size()) numel = data.text.size() + 1;  // bounded: refused below
    }
    if (numel * t.itemsize != data.text.size()) {
      fail("numpy array of " + std::to_string(static_cast<uint64_t>(numel)) + " x " +
           std::to_string(t.itemsize) + " bytes holds " + std::to_string(data.text.size()) +
           " bytes");
    }
    PickleValue v;
    v.kind = ValueKind::Tensor;
    TensorRef& r = v.tensor;
    r.storage.dtype = t.dtype;
    r.storage.root_numel = r.storage.numel = static_cast<int64_t>(numel);
    r.sizes = shape;
    r.strides.assign(shape.size(), 1);
    // With elements, the dimensions multiply to numel (checked above), so no product overflows;
    // without, the other dimensions may be anything (0 x 2^48 x 2^48) and the strides stay 1.
    int64_t stride = 1;
    for (size_t k = 0; k < shape.size() && numel > 0; ++k) {
      size_t i = is_fortran ? k : shape.size() - 1 - k;
      r.strides[i] = stride;
      stride *= std::max<int64_t>(shape[i], 1);
    }
    r.file_dtype = t.file_dtype;
    r.numpy = true;
    r.inline_data = data.text;
    at(target) = std::move(v);
  }

  // _codecs.encode(text, 'latin1'): protocol 2's spelling of bytes (each character one byte).
  PickleValue codecs_encode(const std::vector<ValueId>& args) {
    if (args.size() != 2) fail("expected (text, encoding) for _codecs.encode");
    const std::string& text = text_of(args[0], "the text of _codecs.encode");
    const std::string& encoding = text_of(args[1], "the encoding of _codecs.encode");
    PickleValue v;
    v.kind = ValueKind::Bytes;
    if (encoding == "utf-8" || encoding == "utf8") {
      v.text = text;
      return v;
    }
    if (encoding != "latin1" && encoding != "latin-1" && encoding != "iso-8859-1") {
      fail("unsupported encoding '" + encoding + "' in _codecs.encode (expected latin1)");
    }
    // The pickle holds UTF-8; latin1 maps code points 0-255 to one byte each.
    v.text.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      uint8_t c = static_cast<uint8_t>(text[i]);
      if (c < 0x80) {
        v.text.push_back(static_cast<char>(c));
        i += 1;
      } else if ((c & 0xE0) == 0xC0 && i + 1 < text.size() && c <= 0xC3 &&
                 (static_cast<uint8_t>(text[i + 1]) & 0xC0) == 0x80) {
        v.text.push_back(static_cast<char>(((c & 0x1F) << 6) | (text[i + 1] & 0x3F)));
        i += 2;
      } else {
        fail("character above U+00FF in latin1 text of _codecs.encode");
      }
    }
    return v;
  }

  PickleValue object(const std::string& cls, std::vector<ValueId> args) {
    PickleValue v;
    v.kind = ValueKind::Object;
    v.text = cls;
    v.items = std::move(args);
    return v;
  }

  void reduce() {
    std::vector<ValueId> args = at(expect(pop(), ValueKind::Tuple, "REDUCE arguments")).items;
    const PickleValue& fn = at(expect(top(), ValueKind::Global, "REDUCE callable"));
    std::string name = fn.text;
    PickleValue out;
    if (fn.refused) {
      out = object(name, args);
      out.refused = true;
      stack_.back() = add(std::move(out));
      return;
    }
    switch (*role_of(name)) {
      case Role::kOrderedDict:
      case Role::kSet: {
        out.kind = *role_of(name) == Role::kSet ? ValueKind::Set : ValueKind::Dict;
        if (args.size() > 1) fail("expected at most one argument to " + name);
        if (args.size() == 1) {
          const PickleValue& items = at(args[0]);
          if (items.kind != ValueKind::List && items.kind != ValueKind::Tuple) {
            fail("expected a list as the argument of " + name);
          }
          if (out.kind == ValueKind::Set) {
            out.items = items.items;
          } else {
            // Python 2 pickles an OrderedDict as OrderedDict([[key, value], ...]).
            for (ValueId pair : items.items) {
              const PickleValue& p = at(pair);
              if ((p.kind != ValueKind::Tuple && p.kind != ValueKind::List) ||
                  p.items.size() != 2) {
                fail("expected (key, value) items in " + name + ", found " + kind_name(p.kind));
              }
              out.items.insert(out.items.end(), p.items.begin(), p.items.end());
            }
          }
        }
        break;
      }
      case Role::kRebuildTensor: out = rebuild_tensor(args); break;
      case Role::kRebuildQTensor: out = rebuild_qtensor(args); break;
      case Role::kRebuildParameter:
        if (args.empty()) fail("expected the data of a parameter");
        out = at(expect(args[0], ValueKind::Tensor, "parameter data"));
        break;
      case Role::kDevice:
        if (args.empty() || args.size() > 2) fail("expected torch.device(type[, index])");
        text_of(args[0], "device type");
        if (args.size() == 2 && at(args[1]).kind != ValueKind::None)
          int_of(args[1], "device index");
        out = object(name, args);
        break;
      case Role::kSize:
        if (args.size() != 1) fail("expected torch.Size(tuple)");
        out.kind = ValueKind::Tuple;
        out.items = at(expect(args[0], ValueKind::Tuple, "torch.Size")).items;
        break;
      case Role::kNamespace:
        if (!args.empty()) fail("expected argparse.Namespace() without arguments");
        out = object(name, {});
        break;
      case Role::kBackend: out.kind = ValueKind::None; break;
      case Role::kNumpyReconstruct:
        if (args.size() != 3 || at(args[0]).kind != ValueKind::Global ||
            at(args[0]).text != "numpy.ndarray") {
          fail("expected _reconstruct(numpy.ndarray, shape, dtype)");
        }
        out = object("numpy.ndarray", {});
        break;
      case Role::kNumpyScalar: out = numpy_scalar(args); break;
      case Role::kNumpyDtype:
        if (args.empty()) fail("expected numpy.dtype(descr, ...)");
        text_of(args[0], "numpy dtype");
        out = object(name, args);
        break;
      case Role::kCodecsEncode: out = codecs_encode(args); break;
      case Role::kStorageType:
      case Role::kModuleClass:
      case Role::kValue: fail("global '" + name + "' is not callable");
    }
    stack_.back() = add(std::move(out));
  }

  // NEWOBJ(cls, args): cls.__new__(cls, *args) then, usually, BUILD with its __dict__.
  void new_object(const std::vector<ValueId>& args) {
    const PickleValue& cls = at(expect(pop(), ValueKind::Global, "NEWOBJ class"));
    PickleValue out = object(cls.text, args);
    if (cls.refused) {
      out.refused = true;
    } else if (*role_of(cls.text) != Role::kNamespace && *role_of(cls.text) != Role::kModuleClass) {
      fail("refusing pickle NEWOBJ of '" + cls.text +
           "' (only argparse.Namespace and torch.nn modules are made as plain data)");
    }
    push_new(std::move(out));
  }

  void build() {
    ValueId state = pop();
    ValueId target = top();
    PickleValue& t = at(target);
    if (t.refused) return;
    switch (t.kind) {
      case ValueKind::Dict:
        // The only state torch.save emits for a dict is an OrderedDict's attributes (a
        // state_dict's `_metadata` versions): not weights, so dropped.
      case ValueKind::Tensor:
        // A Parameter's state (requires_grad, hooks) in files of torch 0.1-0.3.
        return;
      case ValueKind::Object:
        if (t.text == "numpy.ndarray" && t.state == kNoValue) {
          build_ndarray(target, state);
        } else if (t.text == "numpy.ndarray" || t.state != kNoValue) {
          fail("object '" + t.text + "' built twice");
        } else {
          t.state = state;
        }
        return;
      default:
        fail(std::string("expected a dict or an object as the target of BUILD, found ") +
             kind_name(t.kind));
    }
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
      case kBinBytes8:
      case kByteArray8: push_text(ValueKind::Bytes, in_.take(in_.u64())); return;
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
      case kEmptySet: push_kind(ValueKind::Set); return;
      case kAddItems: add_to_set(pop_mark()); return;
      case kFrozenSet: {
        PickleValue v;
        v.kind = ValueKind::Set;
        v.items = pop_mark();
        push_new(std::move(v));
        return;
      }
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
      case kBuild: build(); return;
      case kBinPersId: persistent_load(); return;
      case kNewObj: {
        std::vector<ValueId> args = at(expect(pop(), ValueKind::Tuple, "NEWOBJ arguments")).items;
        new_object(args);
        return;
      }
      case kNewObjEx: {
        pop();  // keyword arguments: none of the allowed classes takes any
        std::vector<ValueId> args =
            at(expect(pop(), ValueKind::Tuple, "NEWOBJ_EX arguments")).items;
        new_object(args);
        return;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }

  ByteReader in_;
  std::string origin_;
  size_t op_at_ = 0;
  PickleGraph graph_;
  std::vector<ValueId> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValueId> memo_;
  // Globals outside the allowed list, in order of first use, with the offset of that use.
  std::vector<std::pair<std::string, size_t>> refused_;
};

}  // namespace

PickleGraph unpickle(const std::string& bytes, size_t begin, const std::string& origin) {
  return Unpickler(bytes, begin, origin).run();
}

size_t element_size(c10::ScalarType dtype) { return c10::elementSize(dtype); }

}  // namespace xfer::weights::detail
