#pragma once
// The `--data SPEC` of the command line: which format, and where.

#include <filesystem>
#include <string>

namespace xfer::data {

/// The dataset formats xfer reads.
enum class DatasetFormat {
  /// CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin, batches.meta.txt).
  kCifar10,
  /// CIFAR-100 binary (train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt).
  kCifar100,
  /// Fashion-MNIST IDX files, gzipped or not.
  kFashionMnist,
  /// MNIST IDX files, gzipped or not.
  kMnist,
  /// torchvision's ImageFolder layout, DIR/<class>/<image>, or
  /// DIR/{train,val,test}/<class>/<image>.
  kFolder,
};

/// Where Debian's dataset-fashion-mnist package puts the files: `fashion-mnist` with no DIR.
inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";

/// A parsed dataset spec.
struct DatasetSpec {
  /// The format.
  DatasetFormat format = DatasetFormat::kFolder;
  /// The directory holding the files.
  std::filesystem::path dir;
};

/// Parses `cifar10:DIR`, `cifar100:DIR`, `fashion-mnist[:DIR]`, `mnist:DIR` or `folder:DIR`.
/// Throws InvalidArgument naming the accepted forms and what was given.
DatasetSpec parse_dataset_spec(const std::string& text);

/// The spec as it would be typed: `cifar10:/data/cifar`.
std::string to_string(const DatasetSpec& spec);

/// "cifar10", "cifar100", "fashion-mnist", "mnist" or "folder".
std::string format_name(DatasetFormat format);

}  // namespace xfer::data
