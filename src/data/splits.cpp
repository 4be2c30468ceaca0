#include "xfer/data/splits.h"

#include "xfer/core/error.h"
#include "xfer/data/cifar.h"
#include "xfer/data/idx.h"
#include "xfer/data/image_folder.h"
#include "xfer/transforms/random.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace xfer::data {
namespace {

// Positions of each class's samples, in dataset order.
std::vector<std::vector<int64_t>> by_class(const Dataset& dataset) {
  std::vector<std::vector<int64_t>> groups(dataset.classes().size());
  const std::vector<int64_t> labels = dataset.labels();
  for (size_t i = 0; i < labels.size(); ++i) {
    groups[static_cast<size_t>(labels[i])].push_back(static_cast<int64_t>(i));
  }
  return groups;
}

// A seeded permutation of one class, independent of every other class's.
std::vector<int64_t> shuffled(std::vector<int64_t> group, uint64_t seed, size_t label,
                              uint64_t purpose) {
  transforms::Rng rng(transforms::mix_seed(transforms::mix_seed(seed, purpose), label));
  rng.shuffle(group);
  return group;
}

constexpr uint64_t kValidationStream = 1;
constexpr uint64_t kSubsetStream = 2;

}  // namespace

std::pair<Dataset, Dataset> stratified_split(const Dataset& dataset, double fraction,
                                             uint64_t seed) {
  if (!(fraction >= 0 && fraction < 1)) {
    std::ostringstream text;
    text << fraction;
    throw InvalidArgument("val_fraction: expected a fraction in [0, 1), got " + text.str());
  }
  std::vector<int64_t> kept;
  std::vector<int64_t> held;
  const auto groups = by_class(dataset);
  for (size_t label = 0; label < groups.size(); ++label) {
    const auto n = static_cast<int64_t>(groups[label].size());
    auto count = static_cast<int64_t>(std::llround(static_cast<double>(n) * fraction));
    if (fraction > 0 && n >= 2) count = std::clamp<int64_t>(count, 1, n - 1);
    if (n < 2) count = 0;
    const auto order = shuffled(groups[label], seed, label, kValidationStream);
    held.insert(held.end(), order.begin(), order.begin() + count);
    kept.insert(kept.end(), order.begin() + count, order.end());
  }
  std::sort(kept.begin(), kept.end());
  std::sort(held.begin(), held.end());
  return {dataset.subset(kept), dataset.subset(held)};
}

Dataset per_class_subset(const Dataset& dataset, int64_t per_class, uint64_t seed) {
  if (per_class < 1) {
    throw InvalidArgument("per_class: expected at least 1 sample a class, got " +
                          std::to_string(per_class));
  }
  std::vector<int64_t> chosen;
  const auto groups = by_class(dataset);
  for (size_t label = 0; label < groups.size(); ++label) {
    const auto order = shuffled(groups[label], seed, label, kSubsetStream);
    const auto count = std::min<int64_t>(per_class, static_cast<int64_t>(order.size()));
    chosen.insert(chosen.end(), order.begin(), order.begin() + count);
  }
  std::sort(chosen.begin(), chosen.end());
  return dataset.subset(chosen);
}

std::vector<int64_t> class_labels(const Dataset& dataset, const std::vector<std::string>& classes) {
  const auto& names = dataset.classes();
  std::vector<int64_t> labels;
  for (const auto& wanted : classes) {
    const auto found = std::find(names.begin(), names.end(), wanted);
    if (found != names.end()) {
      labels.push_back(found - names.begin());
      continue;
    }
    const bool is_number = !wanted.empty() && wanted.size() < 10 &&
                           std::all_of(wanted.begin(), wanted.end(),
                                       [](char c) { return c >= '0' && c <= '9'; });
    if (is_number && std::stoll(wanted) < static_cast<long long>(names.size())) {
      labels.push_back(std::stoll(wanted));
      continue;
    }
    std::string known;
    for (size_t i = 0; i < names.size(); ++i) {
      known += (i ? ", " : "") + std::to_string(i) + " '" + names[i] + "'";
    }
    throw InvalidArgument(dataset.name() + ": unknown class '" + wanted + "' (expected a name or number of: " +
                          known + ")");
  }
  return labels;
}

Splits make_splits(DatasetParts parts, const DataOptions& options) {
  if (options.per_class() < 0) {
    throw InvalidArgument("per_class: expected 0 (all) or a count >= 1, got " +
                          std::to_string(options.per_class()));
  }
  Splits splits;
  Dataset train = parts.train;
  Dataset test = parts.test;
  Dataset val = parts.val;
  if (!options.classes().empty()) {
    const auto keep = class_labels(train, options.classes());
    train = train.select_classes(keep);
    if (!test.empty()) test = test.select_classes(keep);
    if (!val.empty()) val = val.select_classes(keep);
  }
  if (options.per_class() > 0) {
    train = per_class_subset(train, options.per_class(), options.seed());
    val = per_class_subset(val, options.per_class(), options.seed());
  }
  const int64_t test_per_class =
      options.test_per_class() < 0 ? options.per_class() : options.test_per_class();
  if (test_per_class > 0) test = per_class_subset(test, test_per_class, options.seed());
  if (parts.val.empty()) {
    std::tie(train, val) = stratified_split(train, options.val_fraction(), options.seed());
  }
  splits.train = std::move(train);
  splits.val = std::move(val);
  splits.test = std::move(test);
  splits.bad_files = std::move(parts.bad_files);
  splits.min_size = parts.min_size;
  splits.max_size = parts.max_size;
  return splits;
}

DatasetParts read_dataset(const DatasetSpec& spec, const DataOptions& options) {
  switch (spec.format) {
    case DatasetFormat::kCifar10:
      return read_cifar10(spec.dir);
    case DatasetFormat::kCifar100:
      return read_cifar100(spec.dir);
    case DatasetFormat::kFashionMnist:
    case DatasetFormat::kMnist:
      return read_idx_dataset(spec.dir, spec.format);
    case DatasetFormat::kFolder:
      break;
  }
  FolderOptions folder;
  folder.skip_bad = options.skip_bad();
  folder.threads = options.threads();
  return read_image_folder(spec.dir, folder);
}

Splits load_splits(const DatasetSpec& spec, const DataOptions& options) {
  return make_splits(read_dataset(spec, options), options);
}

}  // namespace xfer::data
