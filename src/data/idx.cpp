#include "xfer/data/idx.h"

#include "detail/files.h"
#include "xfer/core/error.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>

namespace xfer::data {
namespace {

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

uint32_t big_endian(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& base,
                                const std::string& name) {
  for (const auto& candidate : {dir / base, dir / (base + ".gz")}) {
    if (std::filesystem::is_regular_file(candidate)) return candidate;
  }
  throw IoError(name + ": cannot find " + (dir / base).string() + " or " +
                (dir / (base + ".gz")).string());
}

struct Split {
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  int64_t rows = 0;
  int64_t columns = 0;
};

Split read_split(const std::filesystem::path& dir, const std::string& prefix,
                 const std::string& name) {
  const auto images_file = find_file(dir, prefix + "-images-idx3-ubyte", name);
  const auto labels_file = find_file(dir, prefix + "-labels-idx1-ubyte", name);
  const std::string images_origin = name + ": " + images_file.filename().string();
  const std::string labels_origin = name + ": " + labels_file.filename().string();
  IdxArray images = parse_idx(read_maybe_gzip(images_file, images_origin), kIdxImagesMagic,
                              images_origin, "image");
  const IdxArray labels = parse_idx(read_maybe_gzip(labels_file, labels_origin), kIdxLabelsMagic,
                                    labels_origin, "label");
  if (images.dims[0] != labels.dims[0]) {
    throw FormatError(name + ": " + labels_file.filename().string() + " holds " +
                      std::to_string(labels.dims[0]) + " labels but " +
                      images_file.filename().string() + " holds " + std::to_string(images.dims[0]) +
                      " images (expected one label per image)");
  }
  Split split;
  split.rows = images.dims[1];
  split.columns = images.dims[2];
  split.pixels = std::move(images.data);
  split.labels.reserve(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] > 9) {
      throw FormatError(labels_origin + ": label " + std::to_string(labels.data[i]) + " of item " +
                        std::to_string(i) + " at offset " + std::to_string(8 + i) +
                        " out of range (expected 0..9)");
    }
    split.labels.push_back(labels.data[i]);
  }
  return split;
}

const std::vector<std::string>& class_names(DatasetFormat format) {
  // torchvision's FashionMNIST.classes and MNIST.classes.
  static const std::vector<std::string> fashion{"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                "Bag",         "Ankle boot"};
  static const std::vector<std::string> digits{"0 - zero",  "1 - one",  "2 - two", "3 - three",
                                               "4 - four",  "5 - five", "6 - six", "7 - seven",
                                               "8 - eight", "9 - nine"};
  return format == DatasetFormat::kFashionMnist ? fashion : digits;
}

}  // namespace

IdxArray parse_idx(const std::vector<uint8_t>& bytes, uint32_t magic, const std::string& origin,
                   const std::string& item) {
  if (bytes.size() < 4) {
    throw FormatError(origin +
                      ": offset 0: header truncated (expected a 4-byte magic number, got " +
                      std::to_string(bytes.size()) + " bytes)");
  }
  const uint32_t found = big_endian(bytes.data());
  if (found != magic) {
    throw FormatError(origin + ": offset 0: wrong magic number (expected " + std::to_string(magic) +
                      " = " + hex32(magic) + ", got " + std::to_string(found) + " = " +
                      hex32(found) + ")");
  }
  const size_t ndims = magic & 0xff;
  const size_t header = 4 + 4 * ndims;
  if (bytes.size() < header) {
    throw FormatError(origin + ": offset 4: header truncated (expected " + std::to_string(header) +
                      " bytes, got " + std::to_string(bytes.size()) + ")");
  }
  IdxArray array;
  size_t per_item = 1;
  for (size_t d = 0; d < ndims; ++d) {
    array.dims.push_back(big_endian(&bytes[4 + 4 * d]));
    // Saturates rather than wraps (a magic of more than 3 dimensions): the size check below then
    // reports the entry as truncated.
    const auto dim = static_cast<size_t>(array.dims.back());
    if (d > 0) per_item = dim != 0 && per_item > SIZE_MAX / dim ? SIZE_MAX : per_item * dim;
  }
  if (per_item == 0) {
    throw FormatError(origin + ": offset 8: expected every " + item + " dimension >= 1, got 0");
  }
  const auto count = static_cast<size_t>(array.dims[0]);
  const size_t available = (bytes.size() - header) / per_item;
  if (available < count) {
    const size_t offset = header + available * per_item;
    throw FormatError(origin + ": " + item + " " + std::to_string(available) +
                      " truncated at offset " + std::to_string(offset) + " (expected " +
                      std::to_string(per_item) + " bytes, got " +
                      std::to_string(bytes.size() - offset) + "; the header promises " +
                      std::to_string(count) + " " + item + "s)");
  }
  if (bytes.size() != header + count * per_item) {
    throw FormatError(origin + ": offset " + std::to_string(header + count * per_item) + ": " +
                      std::to_string(bytes.size() - header - count * per_item) +
                      " bytes after the last " + item + " (expected the file to end there)");
  }
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

std::vector<uint8_t> gunzip_if_gzip(std::vector<uint8_t> raw, const std::string& origin) {
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    throw FormatError(origin + ": cannot start gzip decompression");
  }
  std::vector<uint8_t> out;
  std::array<uint8_t, 1 << 16> chunk;
  stream.next_in = raw.data();
  stream.avail_in = static_cast<uInt>(raw.size());
  int status = Z_OK;
  bool too_large = false;
  while (status == Z_OK) {
    stream.next_out = chunk.data();
    stream.avail_out = static_cast<uInt>(chunk.size());
    status = inflate(&stream, Z_NO_FLUSH);
    const size_t produced = chunk.size() - stream.avail_out;
    if (produced > kMaxInflatedBytes - out.size()) {
      too_large = true;
      break;
    }
    out.insert(out.end(), chunk.data(), chunk.data() + produced);
    if (status == Z_BUF_ERROR && stream.avail_in == 0) break;
  }
  const size_t consumed = stream.total_in;
  const std::string message = stream.msg ? stream.msg : "";
  inflateEnd(&stream);
  if (too_large) {
    throw FormatError(origin + ": gzip stream inflates to more than " +
                      std::to_string(kMaxInflatedBytes) + " bytes by compressed offset " +
                      std::to_string(consumed) + " (expected at most that)");
  }
  if (status != Z_STREAM_END) {
    throw FormatError(origin + ": gzip stream " +
                      (status == Z_BUF_ERROR ? "truncated" : "corrupt (" + message + ")") +
                      " at compressed offset " + std::to_string(consumed) +
                      " (expected a complete "
                      "stream, got " +
                      std::to_string(out.size()) + " bytes out of it)");
  }
  return out;
}

std::vector<uint8_t> read_maybe_gzip(const std::filesystem::path& file, const std::string& origin) {
  return gunzip_if_gzip(detail::read_bytes(file, origin), origin);
}

DatasetParts read_idx_dataset(const std::filesystem::path& dir, DatasetFormat format) {
  const std::string name = format_name(format);
  if (format != DatasetFormat::kFashionMnist && format != DatasetFormat::kMnist) {
    throw InvalidArgument("read_idx_dataset: expected mnist or fashion-mnist, got " + name);
  }
  DatasetParts parts;
  Split train = read_split(dir, "train", name);
  Split test = read_split(dir, "t10k", name);
  parts.min_size = {std::min(train.rows, test.rows), std::min(train.columns, test.columns)};
  parts.max_size = {std::max(train.rows, test.rows), std::max(train.columns, test.columns)};
  parts.train = Dataset::from_memory(name, class_names(format), std::move(train.labels),
                                     std::move(train.pixels), train.rows, train.columns, 1);
  parts.test = Dataset::from_memory(name, class_names(format), std::move(test.labels),
                                    std::move(test.pixels), test.rows, test.columns, 1);
  return parts;
}

}  // namespace xfer::data
