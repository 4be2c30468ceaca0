#include "xfer/data/cifar.h"

#include "detail/files.h"
#include "xfer/core/error.h"

namespace xfer::data {
namespace {

constexpr size_t kPixels = 32 * 32 * 3;

struct Layout {
  const char* name;    // "cifar10"
  const char* subdir;  // what the official archive extracts to
  int64_t classes;     // fine classes
  int64_t coarse;      // coarse classes, 0 for CIFAR-10
};

constexpr Layout kCifar10{"cifar10", "cifar-10-batches-bin", 10, 0};
constexpr Layout kCifar100{"cifar100", "cifar-100-binary", 100, 20};

std::filesystem::path resolve(const std::filesystem::path& dir, const Layout& layout) {
  const auto nested = dir / layout.subdir;
  return std::filesystem::is_directory(nested) ? nested : dir;
}

void check_label(int64_t value, int64_t classes, const std::string& origin, const char* what,
                 size_t record, size_t offset) {
  if (value >= classes) {
    throw FormatError(origin + ": record " + std::to_string(record) + " at offset " +
                      std::to_string(offset) + ": " + what + " " + std::to_string(value) +
                      " out of range (expected 0.." + std::to_string(classes - 1) + ")");
  }
}

std::vector<std::string> read_class_names(const std::filesystem::path& file, const Layout& layout,
                                          int64_t expected) {
  const std::string origin = std::string(layout.name) + ": " + file.filename().string();
  const std::vector<uint8_t> bytes = detail::read_bytes(file, origin);
  return parse_cifar_class_names(std::string(bytes.begin(), bytes.end()), origin, expected);
}

void append(CifarBatch& into, CifarBatch&& batch) {
  into.pixels.insert(into.pixels.end(), batch.pixels.begin(), batch.pixels.end());
  into.labels.insert(into.labels.end(), batch.labels.begin(), batch.labels.end());
  into.coarse_labels.insert(into.coarse_labels.end(), batch.coarse_labels.begin(),
                            batch.coarse_labels.end());
}

CifarBatch read_batches(const std::filesystem::path& dir, const std::vector<std::string>& files,
                        const Layout& layout) {
  CifarBatch all;
  for (const auto& name : files) {
    const std::string origin = std::string(layout.name) + ": " + name;
    append(all,
           parse_cifar_batch(detail::read_bytes(dir / name, origin), origin, layout.coarse > 0));
  }
  return all;
}

Dataset to_dataset(CifarBatch&& batch, const Layout& layout, std::vector<std::string> classes,
                   std::vector<std::string> coarse_classes) {
  CoarseLabels coarse;
  if (layout.coarse > 0) coarse = {std::move(coarse_classes), std::move(batch.coarse_labels)};
  return Dataset::from_memory(layout.name, std::move(classes), std::move(batch.labels),
                              std::move(batch.pixels), 32, 32, 3, std::move(coarse));
}

}  // namespace

CifarBatch parse_cifar_batch(const std::vector<uint8_t>& bytes, const std::string& origin,
                             bool cifar100) {
  const size_t label_bytes = cifar100 ? 2 : 1;
  const size_t record = label_bytes + kPixels;
  if (bytes.empty()) {
    throw FormatError(origin + ": empty file (expected records of " + std::to_string(record) +
                      " bytes)");
  }
  const size_t whole = bytes.size() / record;
  if (bytes.size() % record != 0) {
    throw FormatError(origin + ": record " + std::to_string(whole) + " truncated at offset " +
                      std::to_string(whole * record) + " (expected " + std::to_string(record) +
                      " bytes, got " + std::to_string(bytes.size() % record) + ")");
  }
  CifarBatch batch;
  batch.pixels.resize(whole * kPixels);
  batch.labels.resize(whole);
  if (cifar100) batch.coarse_labels.resize(whole);
  for (size_t r = 0; r < whole; ++r) {
    const uint8_t* in = &bytes[r * record];
    if (cifar100) {
      check_label(in[0], 20, origin, "coarse label", r, r * record);
      check_label(in[1], 100, origin, "fine label", r, r * record + 1);
      batch.coarse_labels[r] = in[0];
      batch.labels[r] = in[1];
    } else {
      check_label(in[0], 10, origin, "label", r, r * record);
      batch.labels[r] = in[0];
    }
    const uint8_t* planes = in + label_bytes;
    uint8_t* out = &batch.pixels[r * kPixels];
    for (size_t i = 0; i < 1024; ++i) {
      out[i * 3 + 0] = planes[i];
      out[i * 3 + 1] = planes[1024 + i];
      out[i * 3 + 2] = planes[2048 + i];
    }
  }
  return batch;
}

std::vector<std::string> parse_cifar_class_names(const std::string& text,
                                                 const std::string& origin, int64_t expected) {
  std::vector<std::string> names;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const auto first = text.find_first_not_of(" \t\r", begin);
    if (first < end) {
      const auto last = text.find_last_not_of(" \t\r", end - 1);
      names.push_back(text.substr(first, last - first + 1));
    }
    begin = end + 1;
  }
  if (static_cast<int64_t>(names.size()) != expected) {
    throw FormatError(origin + ": expected " + std::to_string(expected) + " class names, got " +
                      std::to_string(names.size()));
  }
  return names;
}

DatasetParts read_cifar10(const std::filesystem::path& dir) {
  const auto root = resolve(dir, kCifar10);
  auto classes = read_class_names(root / "batches.meta.txt", kCifar10, 10);
  DatasetParts parts;
  parts.train = to_dataset(read_batches(root,
                                        {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                         "data_batch_4.bin", "data_batch_5.bin"},
                                        kCifar10),
                           kCifar10, classes, {});
  parts.test = to_dataset(read_batches(root, {"test_batch.bin"}, kCifar10), kCifar10, classes, {});
  parts.min_size = parts.max_size = {32, 32};
  return parts;
}

DatasetParts read_cifar100(const std::filesystem::path& dir) {
  const auto root = resolve(dir, kCifar100);
  auto fine = read_class_names(root / "fine_label_names.txt", kCifar100, 100);
  auto coarse = read_class_names(root / "coarse_label_names.txt", kCifar100, 20);
  DatasetParts parts;
  parts.train = to_dataset(read_batches(root, {"train.bin"}, kCifar100), kCifar100, fine, coarse);
  parts.test = to_dataset(read_batches(root, {"test.bin"}, kCifar100), kCifar100, fine, coarse);
  parts.min_size = parts.max_size = {32, 32};
  return parts;
}

}  // namespace xfer::data
