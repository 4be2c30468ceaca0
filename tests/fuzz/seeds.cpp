// Seed corpora: the committed weight fixtures and small inputs generated here, each valid or
// nearly so, so that the fuzzer starts from every branch of a format rather than from nothing.

#include "entries.h"

#include "unit/pretrained/tflite_builder.h"
#include "xfer/core/error.h"
#include "xfer/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace xfer::fuzz {
namespace {

namespace fs = std::filesystem;

std::string read_whole(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in || in.bad()) throw IoError(file.string() + ": cannot read the fuzz seed fixture");
  return content.str();
}

// The fixtures with `extension`, sorted by name.
std::vector<Seed> fixtures(const std::string& dir, const std::string& extension) {
  std::vector<Seed> out;
  for (const auto& entry : fs::directory_iterator(fs::path(dir) / "weights")) {
    if (entry.path().extension() != extension) continue;
    out.push_back({entry.path().filename().string(), read_whole(entry.path())});
  }
  std::sort(out.begin(), out.end(), [](const Seed& a, const Seed& b) { return a.name < b.name; });
  if (out.empty()) throw IoError(dir + "/weights: no " + extension + " fixture to seed from");
  return out;
}

// --- safetensors ---

std::string safetensors(const std::string& header, const std::string& data) {
  std::string padded = header;
  padded.append((8 - padded.size() % 8) % 8, ' ');
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((padded.size() >> (8 * i)) & 0xFF));
  return out + padded + data;
}

std::vector<Seed> safetensors_seeds(const std::string& fixtures_dir) {
  std::vector<Seed> out = fixtures(fixtures_dir, ".safetensors");
  out.push_back({"empty_header", safetensors("{}", "")});
  out.push_back({"metadata_only", safetensors(R"({"__metadata__":{"format":"pt"}})", "")});
  // One tensor of every dtype, one element each except BOOL's three, and an empty one.
  std::string header = R"({"__metadata__":{"k":"v"})";
  std::string data;
  const std::pair<const char*, size_t> dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2},
                                                   {"F64", 8}, {"I64", 8}, {"I32", 4},
                                                   {"I16", 2}, {"I8", 1},  {"U8", 1}};
  for (const auto& [name, bytes] : dtypes) {
    const size_t begin = data.size();
    data.append(bytes, '\x01');
    header += std::string(R"(,")") + name + R"(":{"dtype":")" + name + R"(","shape":[1],)" +
              R"("data_offsets":[)" + std::to_string(begin) + "," + std::to_string(data.size()) +
              "]}";
  }
  const size_t begin = data.size();
  data += std::string("\x00\x01\x01", 3);
  header += R"(,"flags":{"dtype":"BOOL","shape":[3,1],"data_offsets":[)" + std::to_string(begin) +
            "," + std::to_string(data.size()) + "]}";
  header += R"(,"none":{"dtype":"F32","shape":[0,4],"data_offsets":[)" +
            std::to_string(data.size()) + "," + std::to_string(data.size()) + "]}}";
  out.push_back({"every_dtype", safetensors(header, data)});
  // Refused: overlapping tensors, and a header length past the end.
  out.push_back({"overlap", safetensors(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                        R"("b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
                                        "abc")});
  std::string long_header = safetensors("{}", "");
  long_header[0] = '\x7f';
  out.push_back({"header_past_end", long_header});
  return out;
}

// --- TFLite ---

std::vector<Seed> tflite_seeds() {
  using testing::build_tflite;
  using testing::fake_mobilenet;
  const torch::nn::Module& net = tflite_import_module();
  std::vector<Seed> out;
  out.push_back({"tiny_mobilenet", build_tflite(fake_mobilenet(net, 8, 1))});
  out.push_back({"tiny_backbone", build_tflite(fake_mobilenet(net, 8, 2, false))});

  // Per-channel scales on the stem, float32 pointwise weights, int8 depthwise weights, an ADD.
  testing::FakeModel mixed = fake_mobilenet(net, 8, 3);
  for (auto& tensor : mixed.tensors) {
    if (tensor.name == "conv0/weights") {
      tensor.scale.assign(8, 0.02f);
      tensor.zero_point.assign(8, 128);
    } else if (tensor.name == "conv1/weights") {
      tensor.type = 9;
    } else if (tensor.name == "conv2/weights") {
      tensor.type = 0;
      tensor.scale.clear();
      tensor.zero_point.clear();
      std::vector<uint8_t> floats;
      for (size_t i = 0; i < tensor.data.size(); ++i) {
        const float value = static_cast<float>(tensor.data[i]) / 256.0f;
        const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
        floats.insert(floats.end(), bytes, bytes + 4);
      }
      tensor.data = floats;
    }
  }
  testing::FakeOp add;
  add.opcode = 0;
  add.inputs = {mixed.outputs[0], mixed.outputs[0]};
  add.outputs = {mixed.outputs[0]};
  add.activation = 1;
  mixed.ops.push_back(add);
  out.push_back({"mixed_types", build_tflite(mixed)});

  // Refused: 0-d weights for the stem (one element, so the reader accepts the constant), a custom
  // operator, and two subgraphs.
  testing::FakeModel scalar = fake_mobilenet(net, 8, 6, false);
  for (auto& tensor : scalar.tensors) {
    if (tensor.name == "conv0/weights") {
      tensor.shape.clear();
      tensor.data.resize(1);
    }
  }
  out.push_back({"scalar_stem_weights", build_tflite(scalar)});

  testing::FakeModel custom = fake_mobilenet(net, 8, 4, false);
  custom.ops[0].custom_code = "TFLite_Detection_PostProcess";
  out.push_back({"custom_op", build_tflite(custom)});
  testing::FakeModel two = fake_mobilenet(net, 8, 5, false);
  two.subgraphs = 2;
  out.push_back({"two_subgraphs", build_tflite(two)});
  return out;
}

// --- CIFAR ---

std::string cifar_record(bool cifar100, uint8_t coarse, uint8_t fine, uint8_t shade) {
  std::string record;
  if (cifar100) record.push_back(static_cast<char>(coarse));
  record.push_back(static_cast<char>(fine));
  for (int i = 0; i < 3072; ++i) record.push_back(static_cast<char>((i * 7 + shade) & 0xFF));
  return record;
}

std::vector<Seed> cifar_seeds() {
  const std::string ten("\x00", 1);
  const std::string hundred("\x01", 1);
  const std::string one = cifar_record(false, 0, 3, 0);
  return {
      {"cifar10_one", ten + one},
      {"cifar10_two", ten + one + cifar_record(false, 0, 9, 50)},
      {"cifar10_label_10", ten + cifar_record(false, 0, 10, 0)},
      {"cifar10_truncated", ten + one + one.substr(0, 100)},
      {"cifar10_empty", ten},
      {"cifar100_one", hundred + cifar_record(true, 19, 99, 7)},
      {"cifar100_coarse_20", hundred + cifar_record(true, 20, 1, 7)},
  };
}

// --- IDX ---

std::string big_endian(uint32_t value) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
  return out;
}

std::string gzip(const std::string& raw) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw IoError("fuzz seeds: cannot start gzip compression");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(raw.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw IoError("fuzz seeds: gzip compression failed");
  return out;
}

std::vector<Seed> idx_seeds() {
  const std::string images_selector("\x00", 1);
  const std::string labels_selector("\x01", 1);
  std::string images =
      big_endian(data::kIdxImagesMagic) + big_endian(2) + big_endian(3) + big_endian(3);
  for (int i = 0; i < 18; ++i) images.push_back(static_cast<char>(i * 13));
  std::string labels =
      big_endian(data::kIdxLabelsMagic) + big_endian(4) + std::string("\x00\x09\x03\x05", 4);
  return {
      {"images", images_selector + images},
      {"images_gz", images_selector + gzip(images)},
      {"images_truncated", images_selector + images.substr(0, images.size() - 5)},
      {"images_gz_truncated", images_selector + gzip(images).substr(0, 20)},
      {"labels", labels_selector + labels},
      {"labels_gz", labels_selector + gzip(labels)},
      {"labels_trailing", labels_selector + labels + "xx"},
      {"wrong_magic", labels_selector + images},
  };
}

}  // namespace

std::vector<Seed> seed_corpus(const std::string& target, const std::string& fixtures_dir) {
  if (target == "pth") return fixtures(fixtures_dir, ".pth");
  if (target == "safetensors") return safetensors_seeds(fixtures_dir);
  if (target == "tflite") return tflite_seeds();
  if (target == "cifar") return cifar_seeds();
  if (target == "idx") return idx_seeds();
  throw InvalidArgument("fuzz seeds: unknown target '" + target +
                        "' (expected pth, safetensors, tflite, cifar or idx)");
}

}  // namespace xfer::fuzz
