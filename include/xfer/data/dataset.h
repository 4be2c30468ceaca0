#pragma once
// A labelled set of images, whichever format it came from: pixels held in memory (CIFAR, IDX) or
// image files decoded on demand (image folders). A Dataset is a cheap view (shared storage plus a
// list of indices), so splits and subsets copy no pixels.

#include "xfer/transforms/functional.h"
#include "xfer/transforms/image.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace xfer::data {

namespace detail {
struct DatasetStorage;
}

/// A file that cannot be used as an image, and why.
struct BadFile {
  /// The file.
  std::filesystem::path file;
  /// What is wrong with it ("GIF image, which xfer does not decode", ...).
  std::string reason;
};

/// The coarse labels of a two-level dataset (CIFAR-100's 20 superclasses).
struct CoarseLabels {
  /// Names, indexed by coarse label.
  std::vector<std::string> classes;
  /// One per sample, in [0, classes.size()).
  std::vector<int64_t> labels;
};

/// Labelled images: `size()` samples, each an image (uint8 HWC, decoded on demand for files) and a
/// label in [0, classes().size()). Copies share the storage; safe to read from many threads.
class Dataset {
 public:
  /// An empty dataset with no class.
  Dataset();

  /// Images held in memory: `pixels` is N × height × width × channels bytes (HWC per image),
  /// `labels` N values in [0, classes.size()). `coarse`, when not empty, gives N coarse labels.
  /// Throws InvalidArgument when the sizes or labels disagree.
  static Dataset from_memory(std::string name, std::vector<std::string> classes,
                             std::vector<int64_t> labels, std::vector<uint8_t> pixels,
                             int64_t height, int64_t width, int64_t channels,
                             CoarseLabels coarse = {});

  /// Image files, decoded when a sample is read: `files[i]` has label `labels[i]`.
  /// Throws InvalidArgument when the counts or labels disagree.
  static Dataset from_files(std::string name, std::vector<std::string> classes,
                            std::vector<int64_t> labels, std::vector<std::filesystem::path> files);

  /// Number of samples.
  int64_t size() const { return static_cast<int64_t>(indices_.size()); }
  /// Whether there is no sample.
  bool empty() const { return indices_.empty(); }
  /// The dataset's name in messages ("cifar10", "folder", ...).
  const std::string& name() const;
  /// Class names, indexed by label.
  const std::vector<std::string>& classes() const;
  /// Label of sample `i`. Throws InvalidArgument when i is out of range.
  int64_t label(int64_t i) const;
  /// Every sample's label, in order.
  std::vector<int64_t> labels() const;
  /// Samples per class, indexed by label.
  std::vector<int64_t> class_counts() const;
  /// The coarse label set (empty when the dataset has none).
  const std::vector<std::string>& coarse_classes() const;
  /// Coarse label of sample `i`. Throws InvalidArgument when i is out of range or there are none.
  int64_t coarse_label(int64_t i) const;
  /// The pixels of sample `i`: uint8 HWC, RGB for files, as stored for memory (1 channel for IDX).
  /// Throws InvalidArgument when i is out of range, IoError/FormatError when a file fails.
  transforms::Image image(int64_t i) const;
  /// The file of sample `i`, or an empty path for in-memory images.
  std::filesystem::path file(int64_t i) const;
  /// Whether samples are image files (rather than pixels in memory).
  bool is_files() const;
  /// The position of sample `i` in the storage it shares with the dataset it was cut from: a
  /// stable identity across splits and shuffles (the loader seeds augmentation with it).
  int64_t source_index(int64_t i) const;
  /// The samples at `positions` (indices into this dataset), in that order.
  /// Throws InvalidArgument for a position out of range.
  Dataset subset(const std::vector<int64_t>& positions) const;
  /// The samples of the classes `keep` (labels of this dataset, no repeats), relabelled 0, 1, ...
  /// in the order of `keep`, which also orders the class names. The samples keep their order and
  /// their pixels or files (copied into a storage of their own; source_index() restarts at 0).
  /// Throws InvalidArgument for an empty `keep`, a repeated or unknown label.
  Dataset select_classes(const std::vector<int64_t>& keep) const;

 private:
  Dataset(std::shared_ptr<const detail::DatasetStorage> storage, std::vector<int64_t> indices);
  int64_t checked(int64_t i) const;

  std::shared_ptr<const detail::DatasetStorage> storage_;
  std::vector<int64_t> indices_;
};

/// A dataset as it ships: its own splits, the files that were skipped, and its image sizes.
struct DatasetParts {
  /// The training split.
  Dataset train;
  /// A validation split of its own, when the dataset has one besides its test split (an image
  /// folder with both val/ and test/); empty otherwise, and then held out of train.
  Dataset val;
  /// The test split (an image folder's test/ or, without one, its val/); empty when there is none.
  Dataset test;
  /// Files that could not be decoded and were skipped (only with skip_bad).
  std::vector<BadFile> bad_files;
  /// Smallest height and width over all images (each the minimum on its own).
  transforms::Size min_size;
  /// Largest height and width over all images.
  transforms::Size max_size;
};

}  // namespace xfer::data
