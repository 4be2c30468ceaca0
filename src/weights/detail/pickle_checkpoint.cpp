#include "detail/pickle_checkpoint.h"

#include "xfer/core/error.h"

#include <charconv>
#include <cstring>
#include <set>
#include <unordered_map>

namespace xfer::weights::detail {
namespace {

constexpr size_t kPrintBudget = 200;
constexpr int kPrintDepth = 8;
// Containers nested deeper than this are listed as one printed leaf, not walked.
constexpr int kMaxDepth = 64;
// Shared containers make a DAG whose paths can outnumber its values exponentially; a file that
// expands to more than this many paths is refused.
constexpr size_t kMaxPaths = size_t{1} << 22;
// The same with long keys: a 1 MB key shared 60 levels deep makes every path 60 MB. The paths
// walked may hold this many bytes in all (real checkpoints: a few MB).
constexpr size_t kMaxPathBytes = size_t{1} << 28;

// The entries that hold a model's weights in common checkpoint layouts, in order of preference:
// {'state_dict': ...} (Lightning, many repositories), the PyTorch tutorial's
// {'model_state_dict': ..., 'optimizer_state_dict': ...}, {'model': ...}, {'net': ...}.
const char* const kWeightsKeys[] = {"state_dict", "model_state_dict", "model", "net"};

bool is_module(const PickleValue& v) {
  return v.kind == ValueKind::Object && is_module_class(v.text);
}

const PickleValue* attribute(const PickleGraph& g, const PickleValue& object, const char* name) {
  if (object.state == kNoValue) return nullptr;
  const PickleValue& state = g.values[object.state];
  if (state.kind != ValueKind::Dict) return nullptr;
  for (size_t i = 0; i + 1 < state.items.size(); i += 2) {
    const PickleValue& k = g.values[state.items[i]];
    if (k.kind == ValueKind::String && k.text == name) return &g.values[state.items[i + 1]];
  }
  return nullptr;
}

void print(const PickleGraph& g, ValueId id, int depth, std::string& out) {
  if (out.size() > kPrintBudget) return;
  if (depth > kPrintDepth) {
    out += "...";
    return;
  }
  const PickleValue& v = g.values[id];
  auto seq = [&](const char* open, const char* close, size_t step) {
    out += open;
    for (size_t i = 0; i < v.items.size(); i += step) {
      if (out.size() > kPrintBudget) return;
      if (i > 0) out += ", ";
      print(g, v.items[i], depth + 1, out);
      if (step == 2 && i + 1 < v.items.size()) {
        out += ": ";
        print(g, v.items[i + 1], depth + 1, out);
      }
    }
    if (step == 1 && v.kind == ValueKind::Tuple && v.items.size() == 1) out += ",";
    out += close;
  };
  switch (v.kind) {
    case ValueKind::None: out += "None"; return;
    case ValueKind::Bool: out += v.flag ? "True" : "False"; return;
    case ValueKind::Int: out += std::to_string(v.integer); return;
    case ValueKind::BigInt: out += "<" + std::to_string(v.text.size()) + "-byte int>"; return;
    case ValueKind::Float: {
      char buf[64];
      auto res = std::to_chars(buf, buf + sizeof buf, v.real);
      std::string s(buf, res.ptr);
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
      out += s;
      return;
    }
    case ValueKind::String: out += "'" + v.text.substr(0, kPrintBudget) + "'"; return;
    case ValueKind::Bytes: out += "b'" + v.text.substr(0, kPrintBudget) + "'"; return;
    case ValueKind::Tuple: seq("(", ")", 1); return;
    case ValueKind::List: seq("[", "]", 1); return;
    case ValueKind::Dict: seq("{", "}", 2); return;
    case ValueKind::Set:
      if (v.items.empty()) {
        out += "set()";
      } else {
        seq("{", "}", 1);
      }
      return;
    case ValueKind::Global: out += v.text; return;
    case ValueKind::Object: {
      if (is_module(v)) {
        out += "<nn.Module " + v.text + ">";
      } else if (v.text == "argparse.Namespace") {
        out += "Namespace(";
        if (v.state != kNoValue && g.values[v.state].kind == ValueKind::Dict) {
          const auto& items = g.values[v.state].items;
          for (size_t i = 0; i + 1 < items.size() && out.size() <= kPrintBudget; i += 2) {
            if (i > 0) out += ", ";
            const PickleValue& k = g.values[items[i]];
            out += k.kind == ValueKind::String ? k.text : "?";
            out += "=";
            print(g, items[i + 1], depth + 1, out);
          }
        }
        out += ")";
      } else if (v.text == "numpy.ndarray") {
        out += "numpy.ndarray(";
        if (v.state != kNoValue) {
          const auto& s = g.values[v.state].items;
          for (size_t i = 0; i + 1 < s.size() && i < 3; ++i) {
            if (i > 0) out += ", ";
            print(g, s[i], depth + 1, out);
          }
        }
        out += ", not read: xfer reads numeric arrays)";
      } else {
        const size_t dot = v.text.rfind('.');
        out += v.text.substr(dot == std::string::npos ? 0 : dot + 1);
        seq("(", ")", 1);
      }
      return;
    }
    case ValueKind::Storage:
      out += std::string("storage(") + c10::toString(v.storage.dtype) + ", " +
             std::to_string(v.storage.numel) + ")";
      return;
    case ValueKind::Tensor: {
      const TensorRef& t = v.tensor;
      out += t.numpy ? "array(" : "tensor(";
      out += t.file_dtype.empty() ? std::string(c10::toString(t.storage.dtype)) : t.file_dtype;
      out += ", [";
      for (size_t i = 0; i < t.sizes.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(t.sizes[i]);
      }
      out += "])";
      return;
    }
  }
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Walks the object from the top, giving every tensor its key path and every other leaf a line.
class Walker {
 public:
  Walker(const PickleGraph& g, const std::map<std::string, torch::Tensor>& roots,
         const std::string& origin, Checkpoint& out)
      : g_(g), roots_(roots), origin_(origin), out_(out), has_tensor_(g.values.size(), -1),
        on_path_(g.values.size(), 0) {}

  void walk(ValueId id, const std::string& path, int depth, bool in_module) {
    if (++paths_ > kMaxPaths) {
      throw FormatError(origin_ + ": the pickled object has more than " +
                        std::to_string(kMaxPaths) +
                        " paths (containers shared over and over); refused");
    }
    path_bytes_ += path.size();
    if (path_bytes_ > kMaxPathBytes) {
      throw FormatError(origin_ + ": the key paths of the pickled object exceed " +
                        std::to_string(kMaxPathBytes >> 20) +
                        " MiB (long keys nested over and over); refused");
    }
    const PickleValue& v = g_.values[id];
    if (v.kind == ValueKind::Tensor) {
      add_tensor(id, path);
      return;
    }
    const bool top = depth == 0;
    if (!is_container(v) || depth >= kMaxDepth || on_path_[id] || (!top && !has_tensor(id))) {
      leaf(path, id);
      return;
    }
    const bool module = is_module(v);
    if (module && !in_module) leaf(path.empty() ? "(top)" : path, id);
    on_path_[id] = 1;
    for_each_child(v, [&](const std::string& key, ValueId child) {
      walk(child, join(path, key), depth + 1, module);
    });
    on_path_[id] = 0;
  }

  // Whether a tensor lies anywhere inside the value.
  bool has_tensor(ValueId id, int depth = 0) {
    if (has_tensor_[id] >= 0) return has_tensor_[id] == 1;
    const PickleValue& v = g_.values[id];
    if (v.kind == ValueKind::Tensor) return true;
    if (!is_container(v) || depth >= kMaxDepth) return false;
    has_tensor_[id] = 0;  // a cycle back here adds nothing
    bool found = false;
    for_each_child(v, [&](const std::string&, ValueId child) {
      found = found || has_tensor(child, depth + 1);
    });
    has_tensor_[id] = found ? 1 : 0;
    return found;
  }

 private:
  bool is_container(const PickleValue& v) const {
    switch (v.kind) {
      case ValueKind::Dict:
      case ValueKind::List:
      case ValueKind::Tuple:
      case ValueKind::Set: return true;
      case ValueKind::Object: return is_module(v) || v.text == "argparse.Namespace";
      default: return false;
    }
  }

  std::string key_text(ValueId id) const {
    const PickleValue& k = g_.values[id];
    if (k.kind == ValueKind::String || k.kind == ValueKind::Bytes) return k.text;
    return printable(g_, id);
  }

  // Dict entries by key; list, tuple and set items by index; a Namespace's attributes; a
  // module's state_dict() entries: its parameters, its persistent buffers, then its submodules.
  template <typename F>
  void for_each_child(const PickleValue& v, F&& visit) const {
    if (v.kind == ValueKind::Dict) {
      for (size_t i = 0; i + 1 < v.items.size(); i += 2)
        visit(key_text(v.items[i]), v.items[i + 1]);
    } else if (v.kind != ValueKind::Object) {
      for (size_t i = 0; i < v.items.size(); ++i) visit(std::to_string(i), v.items[i]);
    } else if (!is_module(v)) {
      if (v.state == kNoValue || g_.values[v.state].kind != ValueKind::Dict) return;
      const auto& items = g_.values[v.state].items;
      for (size_t i = 0; i + 1 < items.size(); i += 2) visit(key_text(items[i]), items[i + 1]);
    } else {
      std::set<std::string> non_persistent;
      if (const PickleValue* names = attribute(g_, v, "_non_persistent_buffers_set")) {
        for (ValueId n : names->items) non_persistent.insert(key_text(n));
      }
      for (const char* group : {"_parameters", "_buffers", "_modules"}) {
        const PickleValue* entries = attribute(g_, v, group);
        if (!entries || entries->kind != ValueKind::Dict) continue;
        const bool buffers = std::strcmp(group, "_buffers") == 0;
        for (size_t i = 0; i + 1 < entries->items.size(); i += 2) {
          const std::string key = key_text(entries->items[i]);
          if (g_.values[entries->items[i + 1]].kind == ValueKind::None) continue;
          if (buffers && non_persistent.count(key)) continue;
          visit(key, entries->items[i + 1]);
        }
      }
    }
  }

  void leaf(const std::string& path, ValueId id) {
    out_.extras.emplace_back(path.empty() ? "(top)" : path, printable(g_, id));
  }

  torch::Tensor tensor_of(ValueId id, const std::string& path) {
    auto found = built_.find(id);
    if (found != built_.end()) return found->second;
    const TensorRef& t = g_.values[id].tensor;
    torch::Tensor tensor;
    if (t.numpy) {
      tensor = storage_tensor(t.inline_data.data(), t.storage.dtype, t.storage.root_numel)
                   .as_strided(t.sizes, t.strides, 0);
    } else {
      auto root = roots_.find(t.storage.key);
      if (root == roots_.end()) {
        throw FormatError(origin_ + ": no data for storage '" + t.storage.key + "' of '" + path +
                          "'");
      }
      tensor = root->second.as_strided(t.sizes, t.strides, t.storage.offset + t.offset);
    }
    built_.emplace(id, tensor);
    return tensor;
  }

  void add_tensor(ValueId id, const std::string& path) {
    std::string key = path;
    // Two paths that print alike ({'a.b': x, 'a': {'b': y}}): the later gets a suffix, so that
    // nothing is lost.
    for (int n = 2; out_.all_tensors.contains(key); ++n) key = path + "#" + std::to_string(n);
    const TensorRef& t = g_.values[id].tensor;
    out_.all_tensors.insert(key, tensor_of(id, key));
    if (!t.file_dtype.empty()) out_.file_dtypes[key] = t.file_dtype;
    if (t.numpy) out_.numpy_arrays.push_back(key);
    if (!t.qscheme.empty()) {
      Quantization q;
      q.scheme = t.qscheme;
      q.scale = t.scale;
      q.zero_point = t.zero_point;
      q.axis = t.axis;
      if (t.scales != kNoValue) q.scales = tensor_of(t.scales, key + " (scales)");
      if (t.zero_points != kNoValue)
        q.zero_points = tensor_of(t.zero_points, key + " (zero points)");
      out_.quantized[key] = q;
    }
  }

  const PickleGraph& g_;
  const std::map<std::string, torch::Tensor>& roots_;
  const std::string& origin_;
  Checkpoint& out_;
  std::vector<int8_t> has_tensor_;
  std::vector<char> on_path_;
  std::unordered_map<ValueId, torch::Tensor> built_;
  size_t paths_ = 0;
  size_t path_bytes_ = 0;
};

// Where the model's weights lie in the file: "state_dict." etc., or "" for the whole file.
std::string weights_entry(const PickleGraph& g, Walker& walker) {
  const PickleValue& top = g.values[g.root];
  if (top.kind != ValueKind::Dict) return "";
  for (const char* name : kWeightsKeys) {
    for (size_t i = 0; i + 1 < top.items.size(); i += 2) {
      const PickleValue& key = g.values[top.items[i]];
      const PickleValue& value = g.values[top.items[i + 1]];
      if (key.kind == ValueKind::String && key.text == name &&
          (value.kind == ValueKind::Dict || is_module(value)) &&
          walker.has_tensor(top.items[i + 1])) {
        return std::string(name) + ".";
      }
    }
  }
  return "";
}

// Top-level entries that hold training state, not weights: containers named optim* or
// *scheduler*.
std::vector<std::string> training_state_entries(const PickleGraph& g) {
  std::vector<std::string> out;
  const PickleValue& top = g.values[g.root];
  if (top.kind != ValueKind::Dict) return out;
  for (size_t i = 0; i + 1 < top.items.size(); i += 2) {
    const PickleValue& key = g.values[top.items[i]];
    const PickleValue& value = g.values[top.items[i + 1]];
    if (key.kind != ValueKind::String || value.kind == ValueKind::Tensor) continue;
    if (starts_with(key.text, "optim") || key.text.find("scheduler") != std::string::npos) {
      out.push_back(key.text);
    }
  }
  return out;
}

bool has_top_key(const PickleGraph& g, const std::string& name) {
  const PickleValue& top = g.values[g.root];
  if (top.kind != ValueKind::Dict) return false;
  for (size_t i = 0; i + 1 < top.items.size(); i += 2) {
    const PickleValue& key = g.values[top.items[i]];
    if (key.kind == ValueKind::String && key.text == name) return true;
  }
  return false;
}

}  // namespace

std::string printable(const PickleGraph& graph, ValueId id) {
  std::string out;
  print(graph, id, 0, out);
  if (out.size() > kPrintBudget) out = out.substr(0, kPrintBudget) + "...";
  return out;
}

std::map<std::string, StorageRef> storages_of(const PickleGraph& graph,
                                              const std::string& origin) {
  std::map<std::string, StorageRef> out;
  for (const PickleValue& v : graph.values) {
    if (v.kind != ValueKind::Storage) continue;
    auto [it, fresh] = out.emplace(v.storage.key, v.storage);
    if (!fresh && (it->second.dtype != v.storage.dtype ||
                   it->second.root_numel != v.storage.root_numel)) {
      throw FormatError(origin + ": storage '" + v.storage.key + "' is used as " +
                        c10::toString(it->second.dtype) + "[" +
                        std::to_string(it->second.root_numel) + "] and as " +
                        c10::toString(v.storage.dtype) + "[" +
                        std::to_string(v.storage.root_numel) + "]");
    }
  }
  return out;
}

torch::Tensor storage_tensor(const char* data, c10::ScalarType dtype, int64_t numel) {
  size_t nbytes = static_cast<size_t>(numel) * element_size(dtype);
  torch::Tensor raw = torch::empty({static_cast<int64_t>(nbytes)}, torch::kUInt8);
  if (nbytes > 0) std::memcpy(raw.data_ptr(), data, nbytes);
  if (dtype == c10::ScalarType::Bool) return raw.ne(0);
  if (dtype == c10::ScalarType::Byte) return raw;
  return raw.view(dtype);
}

StateDict strip_common_prefix(StateDict tensors, const std::string& prefix, bool* stripped) {
  *stripped = false;
  if (tensors.is_empty()) return tensors;
  for (const auto& item : tensors) {
    if (!starts_with(item.key(), prefix)) return tensors;
  }
  StateDict out;
  for (const auto& item : tensors) {
    std::string key = item.key().substr(prefix.size());
    if (out.contains(key)) return tensors;
    out.insert(std::move(key), item.value());
  }
  *stripped = true;
  return out;
}

void select_weights(Checkpoint& checkpoint, const std::string& prefix,
                    const std::vector<std::string>& training_state, bool strip_wrappers,
                    bool lightning) {
  checkpoint.tensors = StateDict();
  for (const auto& item : checkpoint.all_tensors) {
    const std::string& key = item.key();
    if (!starts_with(key, prefix)) continue;
    bool left_out = false;
    for (const auto& name : training_state) {
      left_out = left_out || key == name || starts_with(key, name + ".");
    }
    if (!left_out) checkpoint.tensors.insert(key.substr(prefix.size()), item.value());
  }
  checkpoint.weights_prefix = prefix;
  checkpoint.training_state = training_state;
  if (!strip_wrappers) return;
  bool stripped = false;
  if (lightning) {
    // A LightningModule that keeps its network as `self.model`.
    checkpoint.tensors = strip_common_prefix(std::move(checkpoint.tensors), "model.", &stripped);
    if (stripped) checkpoint.weights_prefix += "model.";
  }
  checkpoint.tensors = strip_common_prefix(std::move(checkpoint.tensors), "module.", &stripped);
  if (stripped) checkpoint.weights_prefix += "module.";
}

Checkpoint checkpoint_from_graph(const PickleGraph& graph,
                                 const std::map<std::string, torch::Tensor>& roots,
                                 const std::string& origin, const std::string& format) {
  const PickleValue& top = graph.values[graph.root];
  const bool container = top.kind == ValueKind::Dict || top.kind == ValueKind::List ||
                         top.kind == ValueKind::Tuple || is_module(top);
  if (!container) {
    throw FormatError(origin + ": expected a dict (a state_dict or a checkpoint), a list or an "
                      "nn.Module at top level, found " + printable(graph, graph.root));
  }
  Checkpoint out;
  out.format = format;
  Walker walker(graph, roots, origin, out);
  walker.walk(graph.root, "", 0, false);

  const std::string prefix = weights_entry(graph, walker);
  select_weights(out, prefix, prefix.empty() ? training_state_entries(graph)
                                             : std::vector<std::string>{},
                 true, prefix == "state_dict." && has_top_key(graph, "pytorch-lightning_version"));
  return out;
}

}  // namespace xfer::weights::detail
