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
};
constexpr DtypeName kDtypes[] = {
    {"F32", c10::ScalarType::Float},  {"F16", c10::ScalarType::Half},
    {"BF16", c10::ScalarType::BFloat16}, {"F64", c10::ScalarType::Double},
    {"I64", c10::ScalarType::Long},   {"I32", c10::ScalarType::Int},
    {"I16", c10::ScalarType::Short},  {"I8", c10::ScalarType::Char},
    {"U8", c10::ScalarType::Byte},    {"BOOL", c10::ScalarType::Bool},
};

struct Entry {
  std::string name;
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

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
    Entry e{name, c10::ScalarType::Undefined, {}, 0, 0};
    for (const auto& d : kDtypes) {
      if (dtype.is_string() && dtype.get<std::string>() == d.name) e.dtype = d.dtype;
    }
    if (e.dtype == c10::ScalarType::Undefined) {
      fail("'" + name + "' has dtype " + (dtype.is_string() ? dtype.dump() : dtype.type_name()) +
           "; expected F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL");
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
           (count > data_size ? std::string("more") : std::to_string(static_cast<uint64_t>(expected))) +
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
  }
  return out;
}

void write_safetensors(const std::filesystem::path& file, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata) {
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
    for (const auto& d : kDtypes) {
      if (d.dtype == t.scalar_type()) dtype = d.name;
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
  std::string text = header.dump();
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
