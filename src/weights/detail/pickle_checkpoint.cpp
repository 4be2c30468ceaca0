#include "detail/pickle_checkpoint.h"

#include "xfer/core/error.h"

#include <charconv>
#include <cstring>

namespace xfer::weights::detail {
namespace {

constexpr size_t kPrintBudget = 200;
constexpr int kPrintDepth = 8;

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
    case ValueKind::Global: out += v.text; return;
    case ValueKind::Storage:
      out += std::string("storage(") + c10::toString(v.storage.dtype) + ", " +
             std::to_string(v.storage.numel) + ")";
      return;
    case ValueKind::Tensor: {
      out += std::string("tensor(") + c10::toString(v.tensor.storage.dtype) + ", [";
      for (size_t i = 0; i < v.tensor.sizes.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(v.tensor.sizes[i]);
      }
      out += "])";
      return;
    }
  }
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

StateDict strip_data_parallel_prefix(StateDict tensors) {
  const std::string prefix = "module.";
  if (tensors.is_empty()) return tensors;
  for (const auto& item : tensors) {
    if (item.key().compare(0, prefix.size(), prefix) != 0) return tensors;
  }
  StateDict out;
  for (const auto& item : tensors) {
    std::string key = item.key().substr(prefix.size());
    if (out.contains(key)) return tensors;
    out.insert(std::move(key), item.value());
  }
  return out;
}

Checkpoint checkpoint_from_graph(const PickleGraph& graph,
                                 const std::map<std::string, torch::Tensor>& roots,
                                 const std::string& origin, const std::string& format) {
  const PickleValue& top = graph.values[graph.root];
  if (top.kind != ValueKind::Dict) {
    throw FormatError(origin + ": expected a dict (a state_dict or a checkpoint) at top level, "
                      "found " + printable(graph, graph.root));
  }
  auto text_key = [&](ValueId id) -> const std::string* {
    const PickleValue& k = graph.values[id];
    return k.kind == ValueKind::String ? &k.text : nullptr;
  };
  // {'state_dict': {...}} or {'model': {...}} hold the weights; anything else is a bare one.
  ValueId weights = graph.root;
  std::string chosen;
  for (const char* name : {"state_dict", "model"}) {
    for (size_t i = 0; i + 1 < top.items.size() && chosen.empty(); i += 2) {
      const std::string* key = text_key(top.items[i]);
      if (key && *key == name && graph.values[top.items[i + 1]].kind == ValueKind::Dict) {
        weights = top.items[i + 1];
        chosen = name;
      }
    }
  }
  Checkpoint out;
  out.format = format;
  auto add_extra = [&](ValueId key, ValueId value) {
    const std::string* k = text_key(key);
    out.extras.emplace_back(k ? *k : printable(graph, key), printable(graph, value));
  };
  if (weights != graph.root) {
    for (size_t i = 0; i + 1 < top.items.size(); i += 2) {
      if (top.items[i + 1] != weights) add_extra(top.items[i], top.items[i + 1]);
    }
  }
  const PickleValue& dict = graph.values[weights];
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const std::string* key = text_key(dict.items[i]);
    const PickleValue& value = graph.values[dict.items[i + 1]];
    if (!key || value.kind != ValueKind::Tensor) {
      add_extra(dict.items[i], dict.items[i + 1]);
      continue;
    }
    const TensorRef& t = value.tensor;
    auto root_it = roots.find(t.storage.key);
    if (root_it == roots.end()) {
      throw FormatError(origin + ": no data for storage '" + t.storage.key + "' of '" + *key + "'");
    }
    const torch::Tensor& root = root_it->second;
    torch::Tensor tensor = root.as_strided(t.sizes, t.strides, t.storage.offset + t.offset);
    if (torch::Tensor* existing = out.tensors.find(*key)) {
      *existing = tensor;
    } else {
      out.tensors.insert(*key, tensor);
    }
  }
  out.tensors = strip_data_parallel_prefix(std::move(out.tensors));
  return out;
}

}  // namespace xfer::weights::detail
