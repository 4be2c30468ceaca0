// Image folders: torchvision's class order and file order, the train/val/test layouts, extensions
// in any case, and files that do not decode — listed all at once, or skipped and counted.

#include "fixtures.h"
#include "support/paths.h"
#include "xfer/data/image_folder.h"
#include "xfer/data/spec.h"
#include "xfer/data/splits.h"
#include "xfer/data/summary.h"

#include <gtest/gtest.h>

#include <fstream>

namespace xfer::data {
namespace {

namespace fs = std::filesystem;
using testing::temp_dir;
using testing::write_png;

void write_text(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

// train/{bee,ant,cat} and test/{ant,bee}: 3 × 4 train PNGs (one nested, one .PNG), 2 × 2 test.
fs::path write_split_folder() {
  const auto root = temp_dir("folder");
  int64_t record = 0;
  for (const std::string cls : {"bee", "ant", "cat"}) {
    for (int i = 0; i < 3; ++i) {
      write_png(root / "train" / cls / ("img" + std::to_string(i) + ".png"), 8 + i, 10, record++);
    }
    write_png(root / "train" / cls / "deeper" / "x.PNG", 12, 9, record++);
  }
  for (const std::string cls : {"ant", "bee"}) {
    for (int i = 0; i < 2; ++i)
      write_png(root / "test" / cls / ("t" + std::to_string(i) + ".png"), 7, 7, record++);
  }
  write_text(root / "train" / "ant" / ".DS_Store", "hidden files are not samples");
  return root;
}

TEST(ImageFolder, ClassesSortedFilesInTorchvisionOrder) {
  const auto root = write_split_folder();
  const DatasetParts parts = read_image_folder(root, {});
  EXPECT_EQ(parts.train.classes(), (std::vector<std::string>{"ant", "bee", "cat"}));
  ASSERT_EQ(parts.train.size(), 12);
  ASSERT_EQ(parts.test.size(), 4);
  EXPECT_TRUE(parts.val.empty());
  EXPECT_EQ(parts.train.file(0), root / "train" / "ant" / "img0.png");
  // Files directly in the class folder come before those of its sub-folders (sorted os.walk).
  EXPECT_EQ(parts.train.file(3), root / "train" / "ant" / "deeper" / "x.PNG");
  EXPECT_EQ(parts.train.label(4), 1);
  EXPECT_EQ(parts.test.label(3), 1);
  EXPECT_EQ(parts.min_size, (transforms::Size{7, 7}));
  EXPECT_EQ(parts.max_size, (transforms::Size{12, 10}));
  const auto image = parts.train.image(1);  // ant/img1.png: record 5 in writing order
  EXPECT_EQ(image.height, 9);
  EXPECT_EQ(image.at(2, 3, 0), testing::fixture_pixel(5, 2, 3, 0));
  EXPECT_EQ(image.at(2, 3, 2), testing::fixture_pixel(5, 2, 3, 2));
}

TEST(ImageFolder, FlatFolderIsTrainOnlyAndValPlusTestKeepsBoth) {
  const auto flat = temp_dir("folder-flat");
  for (int i = 0; i < 3; ++i) write_png(flat / "a" / (std::to_string(i) + ".png"), 4, 4, i);
  write_png(flat / "b" / "0.png", 4, 4, 9);
  const DatasetParts parts = read_image_folder(flat, {});
  EXPECT_EQ(parts.train.size(), 4);
  EXPECT_TRUE(parts.test.empty());
  EXPECT_EQ(parts.test.classes().size(), 2u);

  const auto three = temp_dir("folder-three");
  for (const char* split : {"train", "val", "test"}) {
    write_png(three / split / "a" / "0.png", 4, 4, 0);
    write_png(three / split / "a" / "1.png", 4, 4, 1);
  }
  const Splits splits = load_splits(parse_dataset_spec("folder:" + three.string()));
  EXPECT_EQ(splits.train.size(), 2);  // nothing held out: val/ is the validation split
  EXPECT_EQ(splits.val.size(), 2);
  EXPECT_EQ(splits.test.size(), 2);
  EXPECT_EQ(splits.val.file(0), three / "val" / "a" / "0.png");
}

TEST(ImageFolder, EveryBadFileIsListedWithItsReason) {
  const auto root = write_split_folder();
  write_text(root / "train" / "ant" / "broken.jpg", "not a jpeg at all");
  write_text(root / "train" / "cat" / "notes.txt", "a stray file");
  testing::write_file(root / "test" / "bee" / "placeholder.gif",
                      {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0});
  testing::write_file(root / "train" / "bee" / "empty.png", {});
  try {
    read_image_folder(root, {});
    ADD_FAILURE() << "expected a FormatError";
  } catch (const FormatError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("folder: 4 of 20 files in " + root.string() + " cannot be used"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find((root / "train/ant/broken.jpg").string() +
                           ": not a JPEG, PNG, BMP, WebP or TIFF image: unknown format (starts "
                           "with 6e 6f 74 20)"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find((root / "train/cat/notes.txt").string() +
                           ": not an image file name: extension '.txt'"),
              std::string::npos)
        << message;
    EXPECT_NE(
        message.find((root / "train/bee/empty.png").string() + ": cannot decode an empty file"),
        std::string::npos)
        << message;
    EXPECT_NE(message.find("placeholder.gif: not an image file name: extension '.gif'"),
              std::string::npos)
        << message;
  }
  FolderOptions skip;
  skip.skip_bad = true;
  skip.threads = 3;
  const DatasetParts parts = read_image_folder(root, skip);
  EXPECT_EQ(parts.bad_files.size(), 4u);
  EXPECT_EQ(parts.train.size(), 12);
  EXPECT_EQ(parts.test.size(), 4);
}

TEST(ImageFolder, CorruptDataInsideAValidHeaderIsBad) {
  const auto root = temp_dir("folder-corrupt");
  write_png(root / "a" / "good.png", 16, 16, 0);
  std::ifstream in(root / "a" / "good.png", std::ios::binary);
  std::vector<uint8_t> png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  png.resize(40);  // signature and IHDR, no image data
  testing::write_file(root / "a" / "cut.png", png);
  const auto bad = check_image_files({root / "a" / "good.png", root / "a" / "cut.png"}, 1);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].file, root / "a" / "cut.png");
  EXPECT_EQ(bad[0].reason, "PNG data does not decode (corrupt or truncated)");
}

TEST(ImageFolder, LayoutErrors) {
  EXPECT_THROW_WITH(read_image_folder("/nonexistent/xfer", {}), IoError,
                    "folder: /nonexistent/xfer is not a directory");
  const auto empty = temp_dir("folder-empty");
  EXPECT_THROW_WITH(read_image_folder(empty, {}), FormatError, "has no class folder (expected ");
  fs::create_directories(empty / "a");
  EXPECT_THROW_WITH(read_image_folder(empty, {}), FormatError, "/a holds no file");
  const auto root = write_split_folder();
  write_png(root / "test" / "dog" / "0.png", 4, 4, 0);
  EXPECT_THROW_WITH(read_image_folder(root, {}), FormatError,
                    (root / "test" / "dog").string() + " is a class that");
}

TEST(ImageFolder, SummaryListsCountsSizesAndBadFiles) {
  const auto root = write_split_folder();
  testing::write_file(root / "train" / "ant" / "x.gif", {'G', 'I', 'F', '8'});
  const DatasetSummary summary =
      summarize(parse_dataset_spec("folder:" + root.string()), DataOptions().val_fraction(0.25));
  ASSERT_EQ(summary.classes.size(), 3u);
  EXPECT_EQ(summary.classes[0].name, "ant");
  EXPECT_EQ(summary.classes[0].train, 3);
  EXPECT_EQ(summary.classes[0].val, 1);
  EXPECT_EQ(summary.classes[0].test, 2);
  EXPECT_EQ(summary.classes[2].test, 0);
  EXPECT_EQ(summary.train, 9);
  EXPECT_EQ(summary.val, 3);
  EXPECT_EQ(summary.test, 4);
  ASSERT_EQ(summary.bad_files.size(), 1u);
  EXPECT_EQ(summary.bad_files[0].file, root / "train" / "ant" / "x.gif");
  EXPECT_EQ(summary.min_size, (transforms::Size{7, 7}));
  EXPECT_EQ(summary.spec, "folder:" + root.string());
}

}  // namespace
}  // namespace xfer::data
