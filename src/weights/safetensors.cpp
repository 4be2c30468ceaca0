#include "xfer/weights/safetensors.h"

#include "xfer/core/files.h"
#include "detail/byte_reader.h"
#include "detail/pickle_checkpoint.h"
#include "xfer/core/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

namespace xfer::weights {
namespace {

// The reference implementation refuses headers above 100 MB.
constexpr uint64_t kMaxHeader = 100'000'000;
constexpr size_t kMaxDims = 64;

struct DtypeName {
  const char* name;
  c10::ScalarType dtype;
  // LibTorch 1.13 has no unsigned types wider than a byte: those tensors hold the same bits in
  // the signed type of that width, and the file's name for the dtype is kept beside them.
  const char* file_dtype;
};
constexpr DtypeName kDtypes[] = {
    {"F32", c10::ScalarType::Float, ""},      {"F16", c10::ScalarType::Half, ""},
    {"BF16", c10::ScalarType::BFloat16, ""},  {"F64", c10::ScalarType::Double, ""},
    {"I64", c10::ScalarType::Long, ""},       {"I32", c10::ScalarType::Int, ""},
    {"I16", c10::ScalarType::Short, ""},      {"I8", c10::ScalarType::Char, ""},
    {"U8", c10::ScalarType::Byte, ""},        {"BOOL", c10::ScalarType::Bool, ""},
    {"U16", c10::ScalarType::Short, "uint16"}, {"U32", c10::ScalarType::Int, "uint32"},
    {"U64", c10::ScalarType::Long, "uint64"},
};

// The metadata entry in which xfer keeps what safetensors has no words for: the quantization of
// tensors that torch saved quantized (docs/weights.md).
const char* const kQuantizedKey = "xfer.quantized";
// ... and where the model's weights lie among the tensors of a converted checkpoint.
const char* const kWeightsKey = "xfer.weights";

struct Entry {
  std::string name;
  c10::ScalarType dtype;
  std::string file_dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// {"conv.weight": {"dtype": "qint8", "scheme": "per_tensor_affine", "scale": 0.02,
// "zero_point": 0}, "fc.weight": {"dtype": "qint8", "scheme": "per_channel_affine", "axis": 0,
// "scales": "fc.weight.q_scales", "zero_points": "fc.weight.q_zero_points"}}, as
// convert_checkpoint writes it.
void read_quantization(const std::string& text, const std::string& origin, Checkpoint& out) {
  auto fail = [&](const std::string& what) {
    throw FormatError(origin + ": __metadata__ '" + kQuantizedKey + "': " + what);
  };
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) fail("expected a JSON object");
  for (const auto& [name, info] : json.items()) {
    const torch::Tensor* tensor = out.tensors.find(name);
    if (!tensor) fail("names no tensor of the file: '" + name + "'");
    if (!info.is_object() || !info.contains("dtype") || !info.contains("scheme") ||
        !info["dtype"].is_string() || !info["scheme"].is_string()) {
      fail("'" + name + "' needs a dtype and a scheme");
    }
    Quantization q;
    q.scheme = info["scheme"].get<std::string>();
    const std::string dtype = info["dtype"].get<std::string>();
    const c10::ScalarType holder = dtype == "qint8"    ? c10::ScalarType::Char
                                   : dtype == "quint8" ? c10::ScalarType::Byte
                                   : dtype == "qint32" ? c10::ScalarType::Int
                                                       : c10::ScalarType::Undefined;
    if (holder == c10::ScalarType::Undefined) {
      fail("'" + name + "' has the unknown dtype '" + dtype +
           "' (expected qint8, quint8 or qint32)");
    }
    if (tensor->scalar_type() != holder) {
      fail("'" + name + "' is " + dtype_name(tensor->scalar_type()) + ", which cannot hold " +
           dtype);
    }
    if (q.scheme == "per_tensor_affine") {
      if (!info.value("scale", nlohmann::json()).is_number() ||
          !info.value("zero_point", nlohmann::json()).is_number_integer()) {
        fail("'" + name + "' needs a scale and an integer zero_point");
      }
      q.scale = info["scale"].get<double>();
      q.zero_point = info["zero_point"].get<int64_t>();
    } else if (q.scheme == "per_channel_affine" || q.scheme == "per_channel_affine_float_qparams") {
      if (!info.value("axis", nlohmann::json()).is_number_integer() ||
          !info.value("scales", nlohmann::json()).is_string() ||
          !info.value("zero_points", nlohmann::json()).is_string()) {
        fail("'" + name + "' needs an axis and the names of its scales and zero_points");
      }
      q.axis = info["axis"].get<int64_t>();
      const torch::Tensor* scales = out.tensors.find(info["scales"].get<std::string>());
      const torch::Tensor* zero_points = out.tensors.find(info["zero_points"].get<std::string>());
      if (!scales || !zero_points) fail("the scales or zero_points of '" + name + "' are missing");
      if (q.axis < 0 || q.axis >= tensor->dim() || scales->dim() != 1 || zero_points->dim() != 1 ||
          scales->size(0) != tensor->size(q.axis) || zero_points->size(0) != tensor->size(q.axis)) {
        fail("the scales or zero_points of '" + name + "' do not have one entry per channel");
      }
      q.scales = *scales;
      q.zero_points = *zero_points;
    } else {
      fail("'" + name + "' has the unknown scheme '" + q.scheme + "'");
    }
    out.file_dtypes[name] = dtype;
    out.quantized[name] = q;
  }
}

}  // namespace

Checkpoint read_safetensors_bytes(const std::string& bytes, const std::string& origin) {
  detail::ByteReader r(bytes, 0, bytes.size(), origin);
  uint64_t header_len = r.u64();
  if (header_len > kMaxHeader || header_len > r.remaining()) {
    r.fail_at(0, "safetensors header length " + std::to_string(header_len) + " exceeds the " +
                     std::to_string(r.remaining()) + " bytes that follow (or 100 MB)");
  }
  std::string_view text = r.take(header_len);
  const size_t data_start = r.pos();
  const uint64_t data_size = r.remaining();
  auto fail = [&](const std::string& what) -> void {
    throw FormatError(origin + ": byte 8: safetensors header: " + what);
  };
  // Plain json (a sorted map) rather than ordered_json, whose linear key lookup would make a
  // header of many keys quadratic; file order is restored from the data offsets below.
  nlohmann::json header = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (header.is_discarded()) fail("not valid JSON");
  if (!header.is_object()) fail("expected a JSON object");
  Checkpoint out;
  out.format = "safetensors";
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) fail("__metadata__ must be an object of strings");
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string()) fail("__metadata__ value of '" + k + "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") ||
        !info.contains("data_offsets")) {
      fail("'" + name + "' needs dtype, shape and data_offsets");
    }
    const auto& dtype = info["dtype"];
    const auto& shape = info["shape"];
    const auto& offsets = info["data_offsets"];
    Entry e{name, c10::ScalarType::Undefined, "", {}, 0, 0};
    for (const auto& d : kDtypes) {
      if (dtype.is_string() && dtype.get<std::string>() == d.name) {
        e.dtype = d.dtype;
        e.file_dtype = d.file_dtype;
      }
    }
    if (e.dtype == c10::ScalarType::Undefined) {
      fail("'" + name + "' has dtype " + (dtype.is_string() ? dtype.dump() : dtype.type_name()) +
           "; expected F32, F16, BF16, F64, I64, I32, I16, I8, U8, U16, U32, U64 or BOOL");
    }
    if (!shape.is_array() || shape.size() > kMaxDims) fail("'" + name + "' has a bad shape");
    unsigned __int128 count = 1;
    // The product in order, as torch computes a shape's numel: it must fit an int64 at every step
    // (a 0 makes the rest 0) and so must every dimension, even for an empty tensor. Checked after
    // the byte count, which already refuses every such shape with data.
    unsigned __int128 running = 1;
    std::string too_many;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) {
        fail("'" + name + "' shape holds " + (d.is_primitive() ? d.dump() : d.type_name()));
      }
      uint64_t v = d.get<uint64_t>();
      if (too_many.empty()) {
        running *= v;
        if (running > INT64_MAX || v > INT64_MAX) {
          too_many = "dimension " + std::to_string(e.shape.size()) + " is " + std::to_string(v);
        }
      }
      count *= v;
      if (count > data_size) count = data_size + 1;  // keeps the product bounded
      e.shape.push_back(static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX)));
    }
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      fail("'" + name + "' data_offsets must be [begin, end]");
    }
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size) {
      fail("'" + name + "' data_offsets [" + std::to_string(e.begin) + ", " +
           std::to_string(e.end) + "] outside the " + std::to_string(data_size) +
           "-byte data block");
    }
    unsigned __int128 expected = count * detail::element_size(e.dtype);
    if (expected != e.end - e.begin) {
      fail("'" + name + "' shape and dtype need " +
           (count > data_size ? std::string("more")
                              : std::to_string(static_cast<uint64_t>(expected))) +
           " bytes, data_offsets give " + std::to_string(e.end - e.begin));
    }
    if (!too_many.empty()) {
      fail("'" + name + "' shape has more elements than an int64 holds (" + too_many + ")");
    }
    entries.push_back(std::move(e));
  }
  // Like the reference reader: the tensors tile the data block exactly.
  std::vector<const Entry*> sorted;
  for (const auto& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    if (a->begin != b->begin) return a->begin < b->begin;
    return a->end != b->end ? a->end < b->end : a->name < b->name;
  });
  uint64_t cursor = 0;
  for (const Entry* e : sorted) {
    if (e->begin != cursor) {
      fail("'" + e->name + "' starts at data byte " + std::to_string(e->begin) + ", expected " +
           std::to_string(cursor) + " (tensors overlap or leave a gap)");
    }
    cursor = e->end;
  }
  if (cursor != data_size) {
    fail("tensors end at data byte " + std::to_string(cursor) + " but the data block has " +
         std::to_string(data_size) + " bytes");
  }
  for (const Entry* e : sorted) {
    int64_t numel = 1;
    for (int64_t d : e->shape) numel *= d;
    torch::Tensor flat =
        detail::storage_tensor(bytes.data() + data_start + e->begin, e->dtype, numel);
    out.tensors.insert(e->name, flat.view(e->shape));
    if (!e->file_dtype.empty()) out.file_dtypes[e->name] = e->file_dtype;
  }
  out.all_tensors = out.tensors;
  if (auto q = out.metadata.find(kQuantizedKey); q != out.metadata.end()) {
    read_quantization(q->second, origin, out);
  }
  if (auto w = out.metadata.find(kWeightsKey); w != out.metadata.end()) {
    // {"prefix": "net.module.", "training_state": ["optimizer"]}
    nlohmann::json json = nlohmann::json::parse(w->second, nullptr, false);
    if (json.is_discarded() || !json.is_object() ||
        !json.value("prefix", nlohmann::json()).is_string() ||
        !json.value("training_state", nlohmann::json::array()).is_array()) {
      throw FormatError(origin + ": __metadata__ '" + kWeightsKey +
                        "': expected {\"prefix\": str, \"training_state\": [str]}");
    }
    std::vector<std::string> training_state;
    for (const auto& name : json.value("training_state", nlohmann::json::array())) {
      if (!name.is_string()) {
        throw FormatError(origin + ": __metadata__ '" + kWeightsKey + "': training_state holds " +
                          name.dump());
      }
      training_state.push_back(name.get<std::string>());
    }
    detail::select_weights(out, json["prefix"].get<std::string>(), training_state, false, false);
  }
  return out;
}

void write_safetensors(const std::filesystem::path& file, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::map<std::string, std::string>& file_dtypes) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& item : tensors) {
    const torch::Tensor& t = item.value();
    auto fail = [&](const std::string& what) {
      throw InvalidArgument("write_safetensors: " + file.string() + ": tensor '" + item.key() +
                            "' " + what);
    };
    if (item.key() == "__metadata__") fail("uses the reserved name __metadata__");
    if (!t.defined()) fail("is undefined");
    const char* dtype = nullptr;
    auto unsigned_name = file_dtypes.find(item.key());
    for (const auto& d : kDtypes) {
      const bool wanted =
          unsigned_name != file_dtypes.end() && unsigned_name->second == d.file_dtype;
      if (d.dtype == t.scalar_type() && (dtype == nullptr || wanted)) dtype = d.name;
    }
    if (!dtype) {
      fail(std::string("has dtype ") + c10::toString(t.scalar_type()) +
           "; expected float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8 or "
           "bool");
    }
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    uint64_t nbytes = c.nbytes();
    header[item.key()] = {{"dtype", dtype},
                          {"shape", c.sizes().vec()},
                          {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(c));
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::type_error& e) {
    // Keys of Python-2 pickles are bytes; safetensors headers are UTF-8 JSON.
    throw InvalidArgument("write_safetensors: " + file.string() +
                          ": a tensor name or metadata entry is not UTF-8 text (" + e.what() + ")");
  }
  // The reference writer pads the header with spaces so that the data starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string content;
  content.reserve(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) content.push_back(static_cast<char>((text.size() >> (8 * i)) & 0xFF));
  content += text;
  for (const auto& c : data) content.append(static_cast<const char*>(c.data_ptr()), c.nbytes());
  write_file_atomically(file, content);
}

}  // namespace xfer::weights
