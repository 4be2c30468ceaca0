#pragma once
// From a dataset as it ships to the three splits a run uses: train, a validation split held out of
// train (stratified, seeded), and the dataset's own test split, used once at the end.

#include "xfer/data/dataset.h"
#include "xfer/data/spec.h"

#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xfer::data {

/// How a dataset is read and split.
struct DataOptions {
  /// Fraction of each class of train held out as the validation split, in [0, 1).
  TORCH_ARG(double, val_fraction) = 0.1;
  /// When > 0, at most this many samples of each class in train (before the validation split is
  /// held out of them) and in test, chosen at random (seeded): for quick runs.
  TORCH_ARG(int64_t, per_class) = 0;
  /// At most this many samples of each class in test: -1 for the same as per_class, 0 for all
  /// (a quick run trained on few images can still be measured on the whole test split).
  TORCH_ARG(int64_t, test_per_class) = -1;
  /// When not empty, only these classes (names, or label numbers as written), relabelled 0, 1, ...
  /// in this order: a source or target task cut out of a bigger dataset.
  TORCH_ARG(std::vector<std::string>, classes) = {};
  /// Seed of the validation split and the per-class subset.
  TORCH_ARG(uint64_t, seed) = 0;
  /// Image folders: skip files that do not decode (counted in Splits::bad_files) instead of
  /// failing.
  TORCH_ARG(bool, skip_bad) = false;
  /// Image folders: threads that check the files; 0 for every CPU the process may use.
  TORCH_ARG(int64_t, threads) = 0;
};

/// The three splits of a run: the parts a dataset ships with, after the validation split is held
/// out of train (unless the dataset has its own) and the per-class limits are applied. train is
/// what the model trains on, val what picks the best epoch, test what the final evaluation uses,
/// once.
using Splits = DatasetParts;

/// Splits `dataset` into (kept, held out): round(n_c × fraction) samples of each class c with
/// n_c samples are held out — at least one when fraction > 0 and n_c >= 2, never all of a class —
/// chosen by a seeded shuffle of the class; both parts keep the dataset's order.
/// Throws InvalidArgument for a fraction outside [0, 1).
std::pair<Dataset, Dataset> stratified_split(const Dataset& dataset, double fraction,
                                             uint64_t seed);

/// At most `per_class` samples of each class, chosen by a seeded shuffle of the class, in the
/// dataset's order. Throws InvalidArgument when per_class < 1.
Dataset per_class_subset(const Dataset& dataset, int64_t per_class, uint64_t seed);

/// The labels of `classes` (names of `dataset`'s classes or label numbers) in that order.
/// Throws InvalidArgument naming an unknown class and listing the dataset's classes.
std::vector<int64_t> class_labels(const Dataset& dataset, const std::vector<std::string>& classes);

/// Applies `options` to a dataset as it ships: the class selection, per_class subsets, then the validation split held
/// out of train unless the dataset has its own. Throws InvalidArgument for bad options.
Splits make_splits(DatasetParts parts, const DataOptions& options);

/// Reads the dataset of `spec` and splits it (read_cifar10, read_cifar100, read_idx_dataset or
/// read_image_folder, then make_splits). Throws what they throw.
Splits load_splits(const DatasetSpec& spec, const DataOptions& options = {});

/// Reads the dataset of `spec` as it ships (no split), for the CLI's inspection and for tools.
DatasetParts read_dataset(const DatasetSpec& spec, const DataOptions& options = {});

}  // namespace xfer::data
