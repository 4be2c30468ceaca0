#include "xfer/weights/pth.h"

#include "xfer/core/files.h"
#include "detail/byte_reader.h"
#include "detail/pickle_checkpoint.h"
#include "detail/unpickler.h"
#include "detail/zip_archive.h"
#include "xfer/core/error.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>
#include <unordered_map>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "xfer's weight files are little-endian and are copied as they are");

namespace xfer::weights {
namespace {

using detail::ByteReader;
using detail::PickleGraph;
using detail::StorageRef;
using detail::ValueKind;

// torch/serialization.py: MAGIC_NUMBER = 0x1950a86a20f9469cfc6c, PROTOCOL_VERSION = 1001.
const std::string kLegacyMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
constexpr int64_t kLegacyProtocol = 1001;

Checkpoint read_zip(const std::string& bytes, const std::string& origin) {
  std::vector<detail::ZipEntry> entries = detail::read_zip_entries(bytes, origin);
  if (entries.empty()) throw FormatError(origin + ": zip archive holds no entries");
  // Like torch.load: the folder of the first entry holds everything.
  size_t slash = entries[0].name.find('/');
  if (slash == std::string::npos) {
    throw FormatError(origin + ": zip entry '" + entries[0].name +
                      "' is not in a folder (expected <name>/data.pkl)");
  }
  std::string prefix = entries[0].name.substr(0, slash + 1);
  std::unordered_map<std::string, const detail::ZipEntry*> by_name;
  bool torchscript = false;
  for (const auto& e : entries) {
    by_name[e.name] = &e;
    torchscript = torchscript || e.name == prefix + "constants.pkl" ||
                  e.name.compare(0, prefix.size() + 5, prefix + "code/") == 0;
  }
  if (torchscript) {
    throw FormatError(origin + ": a TorchScript archive (torch.jit.save), not a state_dict: its "
                      "model is code (" + prefix + "code/, " + prefix + "constants.pkl) that xfer "
                      "does not run. In Python, torch.jit.load(file).state_dict() gives its "
                      "weights, and torch.save(them, 'weights.pth') writes a file xfer reads");
  }
  // Only the records read need to be stored, as torch.save writes them.
  auto record = [&](const std::string& name) -> const detail::ZipEntry* {
    auto it = by_name.find(prefix + name);
    if (it == by_name.end()) return nullptr;
    if (it->second->method != 0) {
      throw FormatError(origin + ": zip entry '" + it->second->name + "' is compressed (method " +
                        std::to_string(it->second->method) +
                        "); torch.save stores entries uncompressed (method 0)");
    }
    return it->second;
  };
  if (const detail::ZipEntry* order = record("byteorder")) {
    std::string value = bytes.substr(order->offset, order->size);
    if (value != "little") {
      throw FormatError(origin + ": " + prefix + "byteorder is '" + value +
                        "'; only little-endian files are supported");
    }
  }
  const detail::ZipEntry* pkl = record("data.pkl");
  if (!pkl) {
    throw FormatError(origin + ": no " + prefix + "data.pkl in the archive (not a torch.save file)");
  }
  std::string pickle = bytes.substr(pkl->offset, pkl->size);
  std::string pickle_origin = origin + ": " + prefix + "data.pkl";
  PickleGraph graph = detail::unpickle(pickle, 0, pickle_origin);
  std::map<std::string, torch::Tensor> roots;
  for (const auto& [key, ref] : detail::storages_of(graph, pickle_origin)) {
    const detail::ZipEntry* data = record("data/" + key);
    if (!data) throw FormatError(origin + ": storage record " + prefix + "data/" + key + " missing");
    uint64_t nbytes = static_cast<uint64_t>(ref.root_numel) * detail::element_size(ref.dtype);
    if (data->size != nbytes) {
      throw FormatError(origin + ": byte " + std::to_string(data->offset) + ": " + prefix +
                        "data/" + key + " holds " + std::to_string(data->size) +
                        " bytes, expected " + std::to_string(nbytes) + " (" +
                        std::to_string(ref.root_numel) + " x " + c10::toString(ref.dtype) + ")");
    }
    roots[key] = detail::storage_tensor(bytes.data() + data->offset, ref.dtype, ref.root_numel);
  }
  return detail::checkpoint_from_graph(graph, roots, pickle_origin, "pth-zip");
}

// torch/serialization.py _legacy_load: magic number, protocol version and sys_info pickles, the
// object pickle, the pickled list of storage keys, then per key an int64 element count and the
// raw bytes.
Checkpoint read_legacy(const std::string& bytes, const std::string& origin) {
  PickleGraph magic = detail::unpickle(bytes, 0, origin);
  const auto& m = magic.values[magic.root];
  if (m.kind != ValueKind::BigInt || m.text != kLegacyMagic) {
    throw FormatError(origin + ": byte 0: a pickle but not a torch.save file (expected its magic "
                      "number 0x1950a86a20f9469cfc6c first)");
  }
  PickleGraph protocol = detail::unpickle(bytes, magic.end, origin);
  const auto& p = protocol.values[protocol.root];
  if (p.kind != ValueKind::Int || p.integer != kLegacyProtocol) {
    throw FormatError(origin + ": byte " + std::to_string(magic.end) +
                      ": expected torch.save protocol version 1001, found " +
                      detail::printable(protocol, protocol.root));
  }
  PickleGraph info = detail::unpickle(bytes, protocol.end, origin);
  const auto& sys = info.values[info.root];
  if (sys.kind == ValueKind::Dict) {
    for (size_t i = 0; i + 1 < sys.items.size(); i += 2) {
      const auto& k = info.values[sys.items[i]];
      const auto& v = info.values[sys.items[i + 1]];
      if (k.kind == ValueKind::String && k.text == "little_endian" && v.kind == ValueKind::Bool &&
          !v.flag) {
        throw FormatError(origin + ": byte " + std::to_string(protocol.end) +
                          ": written on a big-endian machine; only little-endian is supported");
      }
    }
  }
  PickleGraph graph = detail::unpickle(bytes, info.end, origin);
  PickleGraph keys = detail::unpickle(bytes, graph.end, origin);
  const auto& list = keys.values[keys.root];
  if (list.kind != ValueKind::List) {
    throw FormatError(origin + ": byte " + std::to_string(graph.end) +
                      ": expected the list of storage keys, found " +
                      detail::printable(keys, keys.root));
  }
  std::map<std::string, StorageRef> refs = detail::storages_of(graph, origin);
  std::map<std::string, torch::Tensor> roots;
  ByteReader r(bytes, keys.end, bytes.size(), origin);
  for (detail::ValueId id : list.items) {
    const auto& k = keys.values[id];
    std::string key = k.kind == ValueKind::Int ? std::to_string(k.integer) : k.text;
    auto ref = refs.find(key);
    size_t at = r.pos();
    if (k.kind == ValueKind::Int || k.kind == ValueKind::String) {
      if (ref == refs.end()) r.fail_at(at, "storage '" + key + "' listed but never used");
    } else {
      r.fail_at(at, "storage key list holds a " + detail::printable(keys, id));
    }
    if (roots.count(key)) r.fail_at(at, "storage '" + key + "' listed twice");
    uint64_t numel = r.u64();
    if (numel != static_cast<uint64_t>(ref->second.root_numel)) {
      r.fail_at(at, "storage '" + key + "' holds " + std::to_string(numel) +
                        " elements, expected " + std::to_string(ref->second.root_numel));
    }
    std::string_view data = r.take(numel * detail::element_size(ref->second.dtype));
    roots[key] = detail::storage_tensor(data.data(), ref->second.dtype, ref->second.root_numel);
  }
  for (const auto& [key, ref] : refs) {
    if (!roots.count(key)) r.fail_at(r.pos(), "no data for storage '" + key + "'");
  }
  return detail::checkpoint_from_graph(graph, roots, origin, "pth-legacy");
}

// A protocol-2 pickle in the subset Python's weights_only unpickler of torch 1.13 accepts
// (torch/_weights_only_unpickler.py): no memo, no SHORT_BINUNICODE, no FRAME.
class Pickler {
 public:
  void op(char c) { out_.push_back(c); }
  void global(const std::string& module, const std::string& name) {
    out_ += 'c' + module + '\n' + name + '\n';
  }
  void text(const std::string& s) {
    op('X');
    le(s.size(), 4);
    out_ += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      le(static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      op('M');
      le(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      le(static_cast<uint64_t>(v), 4);
    } else {
      op('\x8a');
      op('\x08');
      le(static_cast<uint64_t>(v), 8);
    }
  }
  void ints(torch::IntArrayRef values) {
    op('(');
    for (int64_t v : values) integer(v);
    op('t');
  }
  const std::string& bytes() const { return out_; }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  std::string out_;
};

std::string storage_type_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float: return "FloatStorage";
    case c10::ScalarType::Half: return "HalfStorage";
    case c10::ScalarType::BFloat16: return "BFloat16Storage";
    case c10::ScalarType::Double: return "DoubleStorage";
    case c10::ScalarType::Long: return "LongStorage";
    case c10::ScalarType::Int: return "IntStorage";
    case c10::ScalarType::Short: return "ShortStorage";
    case c10::ScalarType::Char: return "CharStorage";
    case c10::ScalarType::Byte: return "ByteStorage";
    case c10::ScalarType::Bool: return "BoolStorage";
    default: return "";
  }
}

// torch.save before 0.1.10 wrote a tar archive (members sys_info, pickle, tensors, storages).
bool looks_like_tar(const std::string& bytes) {
  return bytes.size() >= 512 && bytes.compare(257, 5, "ustar") == 0;
}

}  // namespace

Checkpoint read_pth_bytes(const std::string& bytes, const std::string& origin) {
  if (detail::looks_like_zip(bytes)) return read_zip(bytes, origin);
  if (!bytes.empty() && static_cast<uint8_t>(bytes[0]) == 0x80) return read_legacy(bytes, origin);
  if (looks_like_tar(bytes)) {
    throw FormatError(origin + ": byte 257: a tar archive, the torch.save format of torch before "
                      "0.1.10, which xfer does not read (load and save it again with a newer "
                      "torch)");
  }
  throw FormatError(origin + ": byte 0: not a .pth file (expected a zip archive or a pickle)");
}

void write_pth(const std::filesystem::path& file, const StateDict& tensors) {
  std::vector<torch::Tensor> data;
  Pickler p;
  p.op('\x80');
  p.op('\x02');
  p.global("collections", "OrderedDict");
  p.op(')');
  p.op('R');
  p.op('(');
  for (const auto& item : tensors) {
    const torch::Tensor& t = item.value();
    if (!t.defined()) {
      throw InvalidArgument("write_pth: " + file.string() + ": tensor '" + item.key() +
                            "' is undefined");
    }
    std::string type = storage_type_name(t.scalar_type());
    if (type.empty()) {
      throw InvalidArgument("write_pth: " + file.string() + ": tensor '" + item.key() +
                            "' has dtype " + c10::toString(t.scalar_type()) +
                            "; expected float32, float16, bfloat16, float64, int64, int32, "
                            "int16, int8, uint8 or bool");
    }
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    std::string key = std::to_string(data.size());
    p.text(item.key());
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op('(');
    p.op('(');
    p.text("storage");
    p.global("torch", type);
    p.text(key);
    p.text("cpu");
    p.integer(c.numel());
    p.op('t');
    p.op('Q');
    p.integer(0);
    p.ints(c.sizes());
    p.ints(c.strides());
    p.op('\x89');
    p.global("collections", "OrderedDict");
    p.op(')');
    p.op('R');
    p.op('t');
    p.op('R');
    data.push_back(std::move(c));
  }
  p.op('u');
  p.op('.');
  std::string archive;
  try {
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* buf, size_t n) {
      archive.append(static_cast<const char*>(buf), n);
      return n;
    });
    writer.writeRecord("data.pkl", p.bytes().data(), p.bytes().size());
    for (size_t i = 0; i < data.size(); ++i) {
      writer.writeRecord("data/" + std::to_string(i), data[i].data_ptr(), data[i].nbytes());
    }
    writer.writeEndOfFile();
  } catch (const c10::Error& e) {
    throw IoError("write_pth: " + file.string() + ": building the zip archive failed: " +
                  e.what_without_backtrace());
  }
  write_file_atomically(file, archive);
}

}  // namespace xfer::weights
