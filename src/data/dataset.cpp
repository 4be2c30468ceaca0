#include "xfer/data/dataset.h"

#include "xfer/core/error.h"
#include "xfer/transforms/image.h"

#include <numeric>

namespace xfer::data {
namespace detail {

struct DatasetStorage {
  std::string name;
  std::vector<std::string> classes;
  std::vector<int64_t> labels;
  CoarseLabels coarse;
  // In memory:
  std::vector<uint8_t> pixels;
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  // Or on disk:
  std::vector<std::filesystem::path> files;
};

}  // namespace detail
namespace {

void check_labels(const std::string& name, const std::vector<int64_t>& labels, size_t classes,
                  const char* what) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || static_cast<size_t>(labels[i]) >= classes) {
      throw InvalidArgument(name + ": " + what + " " + std::to_string(labels[i]) + " of sample " +
                            std::to_string(i) + " out of range (expected 0.." +
                            std::to_string(static_cast<int64_t>(classes) - 1) + ")");
    }
  }
}

std::vector<int64_t> iota(size_t n) {
  std::vector<int64_t> indices(n);
  std::iota(indices.begin(), indices.end(), 0);
  return indices;
}

}  // namespace

Dataset::Dataset() : storage_(std::make_shared<detail::DatasetStorage>()) {}

Dataset::Dataset(std::shared_ptr<const detail::DatasetStorage> storage,
                 std::vector<int64_t> indices)
    : storage_(std::move(storage)), indices_(std::move(indices)) {}

Dataset Dataset::from_memory(std::string name, std::vector<std::string> classes,
                             std::vector<int64_t> labels, std::vector<uint8_t> pixels,
                             int64_t height, int64_t width, int64_t channels, CoarseLabels coarse) {
  if (height < 1 || width < 1 || (channels != 1 && channels != 3)) {
    throw InvalidArgument(name + ": expected images of at least 1x1 with 1 or 3 channels, got " +
                          std::to_string(height) + "x" + std::to_string(width) + "x" +
                          std::to_string(channels));
  }
  const auto per_image = static_cast<size_t>(height * width * channels);
  if (pixels.size() != labels.size() * per_image) {
    throw InvalidArgument(name + ": expected " + std::to_string(labels.size() * per_image) +
                          " pixel bytes for " + std::to_string(labels.size()) + " images, got " +
                          std::to_string(pixels.size()));
  }
  check_labels(name, labels, classes.size(), "label");
  if (!coarse.labels.empty() || !coarse.classes.empty()) {
    if (coarse.labels.size() != labels.size()) {
      throw InvalidArgument(name + ": expected " + std::to_string(labels.size()) +
                            " coarse labels, got " + std::to_string(coarse.labels.size()));
    }
    check_labels(name, coarse.labels, coarse.classes.size(), "coarse label");
  }
  auto storage = std::make_shared<detail::DatasetStorage>();
  const size_t n = labels.size();
  storage->name = std::move(name);
  storage->classes = std::move(classes);
  storage->labels = std::move(labels);
  storage->coarse = std::move(coarse);
  storage->pixels = std::move(pixels);
  storage->height = height;
  storage->width = width;
  storage->channels = channels;
  return Dataset(std::move(storage), iota(n));
}

Dataset Dataset::from_files(std::string name, std::vector<std::string> classes,
                            std::vector<int64_t> labels, std::vector<std::filesystem::path> files) {
  if (files.size() != labels.size()) {
    throw InvalidArgument(name + ": expected one label per file, got " +
                          std::to_string(labels.size()) + " labels for " +
                          std::to_string(files.size()) + " files");
  }
  check_labels(name, labels, classes.size(), "label");
  auto storage = std::make_shared<detail::DatasetStorage>();
  const size_t n = labels.size();
  storage->name = std::move(name);
  storage->classes = std::move(classes);
  storage->labels = std::move(labels);
  storage->files = std::move(files);
  return Dataset(std::move(storage), iota(n));
}

const std::string& Dataset::name() const { return storage_->name; }

const std::vector<std::string>& Dataset::classes() const { return storage_->classes; }

int64_t Dataset::checked(int64_t i) const {
  if (i < 0 || i >= size()) {
    throw InvalidArgument(storage_->name + ": sample " + std::to_string(i) +
                          " out of range (expected 0.." + std::to_string(size() - 1) + ")");
  }
  return indices_[static_cast<size_t>(i)];
}

int64_t Dataset::label(int64_t i) const {
  return storage_->labels[static_cast<size_t>(checked(i))];
}

std::vector<int64_t> Dataset::labels() const {
  std::vector<int64_t> out;
  out.reserve(indices_.size());
  for (const auto index : indices_) out.push_back(storage_->labels[static_cast<size_t>(index)]);
  return out;
}

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(storage_->classes.size(), 0);
  for (const auto index : indices_)
    ++counts[static_cast<size_t>(storage_->labels[static_cast<size_t>(index)])];
  return counts;
}

const std::vector<std::string>& Dataset::coarse_classes() const { return storage_->coarse.classes; }

int64_t Dataset::coarse_label(int64_t i) const {
  const int64_t index = checked(i);
  if (storage_->coarse.labels.empty()) {
    throw InvalidArgument(storage_->name +
                          ": expected a dataset with coarse labels (CIFAR-100), "
                          "got one without");
  }
  return storage_->coarse.labels[static_cast<size_t>(index)];
}

transforms::Image Dataset::image(int64_t i) const {
  const auto index = static_cast<size_t>(checked(i));
  if (!storage_->files.empty()) return transforms::decode_image(storage_->files[index]);
  transforms::Image image;
  image.height = storage_->height;
  image.width = storage_->width;
  image.channels = storage_->channels;
  const auto bytes = static_cast<size_t>(image.height * image.width * image.channels);
  const auto begin = storage_->pixels.begin() + static_cast<std::ptrdiff_t>(index * bytes);
  image.pixels.assign(begin, begin + static_cast<std::ptrdiff_t>(bytes));
  return image;
}

std::filesystem::path Dataset::file(int64_t i) const {
  const auto index = static_cast<size_t>(checked(i));
  return storage_->files.empty() ? std::filesystem::path() : storage_->files[index];
}

bool Dataset::is_files() const { return !storage_->files.empty(); }

int64_t Dataset::source_index(int64_t i) const { return checked(i); }

Dataset Dataset::subset(const std::vector<int64_t>& positions) const {
  std::vector<int64_t> indices;
  indices.reserve(positions.size());
  for (const auto position : positions) indices.push_back(checked(position));
  return Dataset(storage_, std::move(indices));
}

Dataset Dataset::select_classes(const std::vector<int64_t>& keep) const {
  const auto& all = storage_->classes;
  if (keep.empty()) throw InvalidArgument(name() + ": expected at least one class to keep, got none");
  std::vector<int64_t> relabel(all.size(), -1);
  for (size_t k = 0; k < keep.size(); ++k) {
    const int64_t c = keep[k];
    if (c < 0 || c >= static_cast<int64_t>(all.size())) {
      throw InvalidArgument(name() + ": class " + std::to_string(c) + " out of range (expected 0.." +
                            std::to_string(static_cast<int64_t>(all.size()) - 1) + ")");
    }
    if (relabel[static_cast<size_t>(c)] >= 0) {
      throw InvalidArgument(name() + ": class '" + all[static_cast<size_t>(c)] +
                            "' given twice in the classes to keep");
    }
    relabel[static_cast<size_t>(c)] = static_cast<int64_t>(k);
  }
  auto storage = std::make_shared<detail::DatasetStorage>();
  storage->name = storage_->name;
  for (const auto c : keep) storage->classes.push_back(all[static_cast<size_t>(c)]);
  storage->height = storage_->height;
  storage->width = storage_->width;
  storage->channels = storage_->channels;
  const auto bytes = static_cast<size_t>(storage_->height * storage_->width * storage_->channels);
  for (const auto index : indices_) {
    const auto i = static_cast<size_t>(index);
    const int64_t label = relabel[static_cast<size_t>(storage_->labels[i])];
    if (label < 0) continue;
    storage->labels.push_back(label);
    if (!storage_->coarse.labels.empty()) storage->coarse.labels.push_back(storage_->coarse.labels[i]);
    if (!storage_->files.empty()) {
      storage->files.push_back(storage_->files[i]);
    } else {
      const auto begin = storage_->pixels.begin() + static_cast<std::ptrdiff_t>(i * bytes);
      storage->pixels.insert(storage->pixels.end(), begin, begin + static_cast<std::ptrdiff_t>(bytes));
    }
  }
  if (!storage->coarse.labels.empty()) storage->coarse.classes = storage_->coarse.classes;
  const size_t n = storage->labels.size();
  return Dataset(std::move(storage), iota(n));
}

}  // namespace xfer::data
