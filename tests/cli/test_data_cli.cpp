// `xfer data inspect` on the datasets a user has: Fashion-MNIST from Debian, hymenoptera from ../shared.

#include "support/paths.h"
#include "support/process.h"

#include <gtest/gtest.h>

namespace {

using xfer::testing::run_xfer;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(DataInspect, FashionMnistHasTheIssuesCounts) {
  const std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "needs Debian's dataset-fashion-mnist";
  const auto result = run_xfer({"data", "inspect", "fashion-mnist"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "10 classes, 54000 train / 6000 val / 10000 test")) << result.out;
  EXPECT_TRUE(contains(result.out, "image size: 28x28\n")) << result.out;
  EXPECT_TRUE(contains(result.out, "0 bad file(s)")) << result.out;
}

TEST(DataInspect, JsonHasPerClassCounts) {
  const std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "needs Debian's dataset-fashion-mnist";
  const auto result = run_xfer({"data", "inspect", "fashion-mnist", "--json", "--per-class", "100"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "\"train\": 900")) << result.out;
  EXPECT_TRUE(contains(result.out, "\"val\": 10")) << result.out;
}

TEST(DataInspect, HymenopteraReportsItsBadGif) {
  const auto dir = xfer::testing::shared_dir() / "data" / "hymenoptera";
  XFER_REQUIRE_SHARED(dir);
  const auto result = run_xfer({"data", "inspect", "folder:" + dir.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "2 classes")) << result.out;
  EXPECT_TRUE(contains(result.out, "1 bad file(s)")) << result.out;
  EXPECT_TRUE(contains(result.out, "imageNotFound.gif")) << result.out;
}

TEST(DataInspect, BadSpecAndMissingDirectorySayWhatIsWrong) {
  const auto bad_spec = run_xfer({"data", "inspect", "imagenet:/tmp"});
  EXPECT_EQ(bad_spec.exit_code, 3) << bad_spec.err;
  EXPECT_TRUE(contains(bad_spec.err, "imagenet:/tmp")) << bad_spec.err;
  const auto missing = run_xfer({"data", "inspect", "folder:/nonexistent/xfer-data"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(contains(missing.err, "/nonexistent/xfer-data")) << missing.err;
  EXPECT_EQ(run_xfer({"data"}).exit_code, 2);
}

}  // namespace
