#pragma once
// Everything `xfer data inspect SPEC` prints, as data: classes, counts per split and class, the
// range of image sizes, and the files that cannot be used.

#include "xfer/data/splits.h"

#include <string>
#include <vector>

namespace xfer::data {

/// How many samples of one class each split holds.
struct ClassCounts {
  /// The class name.
  std::string name;
  /// Samples in train.
  int64_t train = 0;
  /// Samples in the validation split.
  int64_t val = 0;
  /// Samples in test.
  int64_t test = 0;
};

/// A dataset at a glance.
struct DatasetSummary {
  /// The spec, as typed (`folder:/data/x`).
  std::string spec;
  /// Per class, in label order.
  std::vector<ClassCounts> classes;
  /// Totals over the classes.
  int64_t train = 0;
  /// Samples in the validation split.
  int64_t val = 0;
  /// Samples in test.
  int64_t test = 0;
  /// Smallest height and width of the images (each the minimum on its own).
  transforms::Size min_size;
  /// Largest height and width of the images.
  transforms::Size max_size;
  /// Files that cannot be decoded, with the reason, listed rather than thrown.
  std::vector<BadFile> bad_files;
};

/// Reads and splits the dataset of `spec` with `options` (skip_bad forced on, so that bad files
/// are listed, not thrown) and counts it. Throws what load_splits throws for anything else.
DatasetSummary summarize(const DatasetSpec& spec, DataOptions options = {});

/// Counts already-made splits; `spec` is only copied into the summary.
DatasetSummary summarize(const Splits& splits, const std::string& spec);

}  // namespace xfer::data
