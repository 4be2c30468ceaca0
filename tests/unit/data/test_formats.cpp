// The dataset formats, on tiny fixtures written at test time: CIFAR-10, CIFAR-100, IDX gzipped
// and not, the dataset spec, and every format error a user can meet. Plus the real Fashion-MNIST
// that scripts/setup installs.

#include "fixtures.h"
#include "support/paths.h"
#include "xfer/data/cifar.h"
#include "xfer/data/idx.h"
#include "xfer/data/spec.h"
#include "xfer/data/splits.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <tuple>

namespace xfer::data {
namespace {

using testing::fixture_pixel;
using testing::temp_dir;

TEST(DatasetSpec, ParsesEveryForm) {
  EXPECT_EQ(parse_dataset_spec("cifar10:/d").format, DatasetFormat::kCifar10);
  EXPECT_EQ(parse_dataset_spec("cifar100:/d").format, DatasetFormat::kCifar100);
  EXPECT_EQ(parse_dataset_spec("mnist:/m").dir, "/m");
  EXPECT_EQ(parse_dataset_spec("folder:/a:b").dir, "/a:b");
  const DatasetSpec fashion = parse_dataset_spec("fashion-mnist");
  EXPECT_EQ(fashion.format, DatasetFormat::kFashionMnist);
  EXPECT_EQ(fashion.dir, kFashionMnistDefaultDir);
  EXPECT_EQ(parse_dataset_spec("fashion-mnist:/x").dir, "/x");
  EXPECT_EQ(to_string(parse_dataset_spec("cifar10:/d")), "cifar10:/d");
}

TEST(DatasetSpec, BadSpecNamesTheAcceptedForms) {
  EXPECT_THROW_WITH(parse_dataset_spec("foo"), InvalidArgument,
                    "expected one of cifar10:DIR, cifar100:DIR, fashion-mnist[:DIR], mnist:DIR or "
                    "folder:DIR, got 'foo'");
  EXPECT_THROW_WITH(parse_dataset_spec("cifar10"), InvalidArgument,
                    "cifar10 needs a directory (cifar10:DIR), got 'cifar10'");
  EXPECT_THROW_WITH(parse_dataset_spec("folder:"), InvalidArgument, "folder needs a directory");
}

TEST(Cifar10, ReadsRecordsLabelsNamesAndPixels) {
  const auto dir = testing::write_cifar10(temp_dir("cifar10"), 4, 3);
  const DatasetParts parts = read_cifar10(dir);
  ASSERT_EQ(parts.train.size(), 20);
  ASSERT_EQ(parts.test.size(), 3);
  EXPECT_EQ(parts.train.classes().size(), 10u);
  EXPECT_EQ(parts.train.classes()[9], "truck");
  EXPECT_EQ(parts.train.label(13), 3);
  const auto image = parts.train.image(13);
  ASSERT_EQ(image.height, 32);
  ASSERT_EQ(image.channels, 3);
  // Planar R, G, B in the file; interleaved in memory.
  for (const auto& [y, x, c] : {std::tuple{0, 0, 0}, {5, 7, 1}, {31, 30, 2}}) {
    EXPECT_EQ(image.at(y, x, c), fixture_pixel(13, y, x, c));
  }
  EXPECT_EQ(parts.min_size, (transforms::Size{32, 32}));
}

TEST(Cifar10, FindsTheArchiveFolderInside) {
  const auto root = temp_dir("cifar10-nested");
  testing::write_cifar10(root / "cifar-10-batches-bin", 1, 1);
  EXPECT_EQ(read_cifar10(root).train.size(), 5);
}

TEST(Cifar10, TruncatedRecordNamesFileRecordOffsetAndSizes) {
  const auto dir = testing::write_cifar10(temp_dir("cifar10-trunc"), 40, 1);
  auto bytes = testing::cifar_records(std::vector<int>(38, 1), false);
  bytes.resize(37 * 3073 + 112);
  testing::write_file(dir / "data_batch_1.bin", bytes);
  EXPECT_THROW_WITH(read_cifar10(dir), FormatError,
                    "cifar10: data_batch_1.bin: record 37 truncated at offset 113701 (expected "
                    "3073 bytes, got 112)");
}

TEST(Cifar10, OtherFormatErrors) {
  const auto dir = testing::write_cifar10(temp_dir("cifar10-bad"), 2, 1);
  auto bytes = testing::cifar_records({1, 12}, false);
  testing::write_file(dir / "data_batch_2.bin", bytes);
  EXPECT_THROW_WITH(read_cifar10(dir), FormatError,
                    "cifar10: data_batch_2.bin: record 1 at offset 3073: label 12 out of range "
                    "(expected 0..9)");
  testing::write_file(dir / "data_batch_2.bin", {});
  EXPECT_THROW_WITH(read_cifar10(dir), FormatError, "data_batch_2.bin: empty file");
  std::filesystem::remove(dir / "data_batch_2.bin");
  EXPECT_THROW_WITH(read_cifar10(dir), IoError, "cifar10: data_batch_2.bin: cannot open");
  std::ofstream(dir / "batches.meta.txt") << "a\nb\n";
  EXPECT_THROW_WITH(read_cifar10(dir), FormatError,
                    "cifar10: batches.meta.txt: expected 10 class names, got 2");
}

// One name a line, as the official files and their Windows copies write them.
TEST(CifarClassNames, SkipsBlankLinesAndTrimsEachName) {
  const std::vector<std::string> names =
      parse_cifar_class_names("airplane\r\n\r\n  sea lion\t\n\ntruck", "cifar10: m.txt", 3);
  EXPECT_EQ(names, (std::vector<std::string>{"airplane", "sea lion", "truck"}));
  EXPECT_THROW_WITH(parse_cifar_class_names(" \r\n\t\n", "cifar100: c.txt", 20), FormatError,
                    "cifar100: c.txt: expected 20 class names, got 0");
}

TEST(Cifar100, ReadsFineAndCoarseLabels) {
  const auto dir = testing::write_cifar100(temp_dir("cifar100"), 120, 7);
  const DatasetParts parts = read_cifar100(dir);
  ASSERT_EQ(parts.train.size(), 120);
  ASSERT_EQ(parts.test.size(), 7);
  EXPECT_EQ(parts.train.classes().size(), 100u);
  EXPECT_EQ(parts.train.coarse_classes().size(), 20u);
  EXPECT_EQ(parts.train.label(105), 5);
  EXPECT_EQ(parts.train.coarse_label(105), 5);
  EXPECT_EQ(parts.train.label(57), 57);
  EXPECT_EQ(parts.train.coarse_label(57), 17);
  EXPECT_EQ(parts.train.image(57).at(3, 4, 2), fixture_pixel(57, 3, 4, 2));
  EXPECT_THROW_WITH(read_cifar10(dir), IoError, "batches.meta.txt");
  auto bytes = testing::cifar_records({1, 2}, true);
  bytes[3074 + 1] = 100;
  testing::write_file(dir / "test.bin", bytes);
  EXPECT_THROW_WITH(read_cifar100(dir), FormatError,
                    "cifar100: test.bin: record 1 at offset 3075: fine label 100 out of range "
                    "(expected 0..99)");
}

class IdxFormats : public ::testing::TestWithParam<bool> {};

TEST_P(IdxFormats, ReadsGreyImagesAndLabels) {
  const bool gzip = GetParam();
  const auto dir = testing::write_idx_dataset(temp_dir("idx"), 23, 11, gzip);
  const DatasetParts parts = read_idx_dataset(dir, DatasetFormat::kFashionMnist);
  ASSERT_EQ(parts.train.size(), 23);
  ASSERT_EQ(parts.test.size(), 11);
  EXPECT_EQ(parts.train.classes()[9], "Ankle boot");
  EXPECT_EQ(parts.test.label(7), 7);
  const auto image = parts.train.image(17);
  EXPECT_EQ(image.channels, 1);
  EXPECT_EQ(image.height, 6);
  EXPECT_EQ(image.width, 5);
  EXPECT_EQ(image.at(4, 3, 0), fixture_pixel(17, 4, 3, 0));
  EXPECT_EQ(parts.max_size, (transforms::Size{6, 5}));
  EXPECT_EQ(read_idx_dataset(dir, DatasetFormat::kMnist).train.classes()[0], "0 - zero");
}

INSTANTIATE_TEST_SUITE_P(GzippedOrNot, IdxFormats, ::testing::Bool());

TEST(Idx, WrongMagicNamesFileOffsetExpectedAndFound) {
  const auto dir = testing::write_idx_dataset(temp_dir("idx-magic"), 3, 2, true);
  // A labels file where the images should be.
  testing::write_file(dir / "train-images-idx3-ubyte.gz", testing::idx_bytes(0x801, {3}, {0, 1, 2}),
                      true);
  EXPECT_THROW_WITH(read_idx_dataset(dir, DatasetFormat::kFashionMnist), FormatError,
                    "fashion-mnist: train-images-idx3-ubyte.gz: offset 0: wrong magic number "
                    "(expected 2051 = 0x00000803, got 2049 = 0x00000801)");
}

TEST(Idx, TruncatedFilesAreFormatErrors) {
  const auto dir = testing::write_idx_dataset(temp_dir("idx-trunc"), 40, 2, false, 28, 28);
  auto bytes = testing::idx_bytes(0x803, {40, 28, 28}, std::vector<uint8_t>(37 * 784 + 112, 1));
  testing::write_file(dir / "train-images-idx3-ubyte", bytes);
  EXPECT_THROW_WITH(read_idx_dataset(dir, DatasetFormat::kMnist), FormatError,
                    "mnist: train-images-idx3-ubyte: image 37 truncated at offset 29024 (expected "
                    "784 bytes, got 112; the header promises 40 images)");
  testing::write_file(dir / "train-images-idx3-ubyte", {0, 0, 8, 3, 0, 0});
  EXPECT_THROW_WITH(read_idx_dataset(dir, DatasetFormat::kMnist), FormatError,
                    "offset 4: header truncated (expected 16 bytes, got 6)");
}

TEST(Idx, TruncatedGzipAndMismatchedCounts) {
  const auto dir = testing::write_idx_dataset(temp_dir("idx-gz"), 30, 2, true);
  const auto file = dir / "t10k-labels-idx1-ubyte.gz";
  std::ifstream in(file, std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz.resize(gz.size() - 6);  // cuts the stream's CRC and length
  testing::write_file(file, gz);
  EXPECT_THROW_WITH(read_idx_dataset(dir, DatasetFormat::kFashionMnist), FormatError,
                    "fashion-mnist: t10k-labels-idx1-ubyte.gz: gzip stream truncated");
  testing::write_file(file, testing::idx_bytes(0x801, {3}, {0, 1, 2}), true);
  EXPECT_THROW_WITH(read_idx_dataset(dir, DatasetFormat::kFashionMnist), FormatError,
                    "t10k-labels-idx1-ubyte.gz holds 3 labels but t10k-images-idx3-ubyte.gz holds "
                    "2 images");
  testing::write_file(file, testing::idx_bytes(0x801, {2}, {0, 10}), true);
  EXPECT_THROW_WITH(read_idx_dataset(dir, DatasetFormat::kFashionMnist), FormatError,
                    "label 10 of item 1 at offset 9 out of range (expected 0..9)");
  std::filesystem::remove(file);
  EXPECT_THROW_WITH(read_idx_dataset(dir, DatasetFormat::kFashionMnist), IoError,
                    "fashion-mnist: cannot find " + (dir / "t10k-labels-idx1-ubyte").string());
}

TEST(FashionMnist, InstalledDatasetSplits54000_6000_10000) {
  if (!std::filesystem::exists(kFashionMnistDefaultDir)) {
    GTEST_SKIP() << "needs " << kFashionMnistDefaultDir << " (scripts/setup installs "
                 << "dataset-fashion-mnist)";
  }
  const Splits splits = load_splits(parse_dataset_spec("fashion-mnist"));
  EXPECT_EQ(splits.train.size(), 54000);
  EXPECT_EQ(splits.val.size(), 6000);
  EXPECT_EQ(splits.test.size(), 10000);
  for (const auto count : splits.val.class_counts()) EXPECT_EQ(count, 600);
  EXPECT_EQ(splits.train.image(0).height, 28);
}

}  // namespace
}  // namespace xfer::data
