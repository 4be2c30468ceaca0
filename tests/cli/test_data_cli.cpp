// `xfer data inspect` on the datasets a user has: Fashion-MNIST from Debian, hymenoptera from
// ../shared; `xfer data download` and `inspect --download` against a local HTTP server.

#include "fetch_environment.h"
#include "fixtures.h"
#include "support/http_server.h"
#include "support/paths.h"
#include "support/process.h"

#include <gtest/gtest.h>

#include <fstream>

namespace {

using xfer::testing::FetchEnvironment;
using xfer::testing::LocalHttpServer;
using xfer::testing::run_xfer;
using xfer::testing::temp_dir;

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

TEST(DataInspect, CorruptImagesAreReportedWithoutAnythingFromOpenCv) {
  const auto dir = temp_dir("corrupt-images");
  xfer::testing::write_png(dir / "train" / "a" / "good.png", 8, 8, 0);
  xfer::testing::write_png(dir / "train" / "b" / "good.png", 8, 8, 1);
  std::ifstream in(dir / "train" / "a" / "good.png", std::ios::binary);
  const std::string png((std::istreambuf_iterator<char>(in)), {});
  // A cut PNG: libpng's own error printer would say "libpng error: ..." on stderr.
  std::ofstream(dir / "train" / "a" / "cut.png", std::ios::binary) << png.substr(0, png.size() / 2);
  std::ofstream(dir / "train" / "b" / "cut.bmp", std::ios::binary) << "BM\x36\x00\x00";
  std::ofstream(dir / "train" / "b" / "page.jpg") << "<html>not found</html>";
  const auto hymenoptera_gif =
      xfer::testing::shared_dir() / "data" / "hymenoptera" / "train" / "ants" / "imageNotFound.gif";
  const auto result = run_xfer({"data", "inspect", "folder:" + dir.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "3 bad file(s)")) << result.out;
  EXPECT_EQ(result.err, "");
  if (std::filesystem::exists(hymenoptera_gif)) {
    const auto shared =
        run_xfer({"data", "inspect",
                  "folder:" + hymenoptera_gif.parent_path().parent_path().parent_path().string()});
    EXPECT_EQ(shared.exit_code, 0);
    EXPECT_EQ(shared.err, "");
  }
}

TEST(DataDownload, FilesAlreadyThereNeedNoNetwork) {
  const FetchEnvironment environment("");
  const LocalHttpServer server(temp_dir("data-served"));
  const auto dir = temp_dir("data-present");
  xfer::testing::write_cifar10(dir / "cifar-10-batches-bin", 10, 4);
  const auto result = run_xfer({"data", "download", "cifar10:" + dir.string(), "--data-url",
                                server.url("cifar-10-binary.tar.gz")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, (dir / "cifar-10-batches-bin").string() + "\n");
  EXPECT_TRUE(contains(result.err, "already in")) << result.err;
  const auto inspect = run_xfer({"data", "inspect", "cifar10:" + dir.string(), "--download",
                                 "--data-url", server.url("cifar-10-binary.tar.gz")});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_TRUE(contains(inspect.out, "10 classes, 40 train / 10 val / 4 test")) << inspect.out;
  EXPECT_EQ(inspect.err, "");
  EXPECT_EQ(server.requests(), 0);
  EXPECT_TRUE(environment.cache_empty());
}

TEST(DataDownload, WrongChecksumAndMissingArchiveFailWithNothingLeft) {
  const FetchEnvironment environment("");
  const auto served = temp_dir("data-served");
  std::ofstream(served / "cifar-10-binary.tar.gz") << "not the archive";
  const LocalHttpServer server(served);
  const auto dir = temp_dir("data-dest") / "cifar";

  const auto wrong = run_xfer({"data", "download", "cifar10:" + dir.string(), "--data-url",
                               server.url("cifar-10-binary.tar.gz")});
  EXPECT_EQ(wrong.exit_code, 4) << wrong.err;
  EXPECT_TRUE(contains(wrong.err, "MD5 mismatch")) << wrong.err;
  EXPECT_TRUE(contains(wrong.err, "expected c32a1d4ab5d03f1284b67883e8d87530")) << wrong.err;
  EXPECT_EQ(wrong.out, "");

  const auto missing = run_xfer({"data", "inspect", "cifar100:" + dir.string(), "--download",
                                 "--data-url", server.url("cifar-100-binary.tar.gz")});
  EXPECT_EQ(missing.exit_code, 4) << missing.err;
  EXPECT_TRUE(contains(missing.err, "HTTP status 404")) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(environment.cache_empty());
}

TEST(DataDownload, OnlyCifarHasAnArchiveAndTheUrlNeedsDownload) {
  const auto folder = run_xfer({"data", "download", "folder:/tmp"});
  EXPECT_EQ(folder.exit_code, 3) << folder.err;
  EXPECT_TRUE(contains(folder.err, "folder has no official archive")) << folder.err;
  const auto url_alone =
      run_xfer({"data", "inspect", "cifar10:/tmp", "--data-url", "http://127.0.0.1:9/x"});
  EXPECT_EQ(url_alone.exit_code, 2) << url_alone.err;
  EXPECT_TRUE(contains(url_alone.err, "--download")) << url_alone.err;
}

}  // namespace
