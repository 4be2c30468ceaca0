// folder:<cifar10-jpg extracted>: 10 classes of 4,500 train, 500 val and 1,000 test images.
// Extracts ../shared/data/cifar10-jpg.tar.gz into a temporary folder first.

#include "fixtures.h"
#include "support/paths.h"
#include "xfer/data/spec.h"
#include "xfer/data/summary.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace xfer::data {
namespace {

TEST(Cifar10Jpg, FolderSplits4500_500_1000PerClass) {
  const auto archive = testing::shared_dir() / "data" / "cifar10-jpg.tar.gz";
  XFER_REQUIRE_SHARED(archive);
  const auto dir = testing::temp_dir("cifar10-jpg");
  const std::string command = "tar -xzf '" + archive.string() + "' -C '" + dir.string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  auto root = dir;
  if (!std::filesystem::exists(root / "train")) root = *std::filesystem::directory_iterator(dir);
  const DatasetSummary summary = summarize(parse_dataset_spec("folder:" + root.string()));
  ASSERT_EQ(summary.classes.size(), 10u);
  EXPECT_EQ(summary.classes[0].name, "airplane");
  for (const auto& cls : summary.classes) {
    EXPECT_EQ(cls.train, 4500) << cls.name;
    EXPECT_EQ(cls.val, 500) << cls.name;
    EXPECT_EQ(cls.test, 1000) << cls.name;
  }
  EXPECT_TRUE(summary.bad_files.empty());
  EXPECT_EQ(summary.min_size, (transforms::Size{32, 32}));
  EXPECT_EQ(summary.max_size, (transforms::Size{32, 32}));
}

}  // namespace
}  // namespace xfer::data
