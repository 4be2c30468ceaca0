// xfer's own JPEG decoding (libjpeg-turbo straight to RGB) against cv::imdecode on real photos:
// every JPEG of ../shared/data/hymenoptera and of ../shared/weights/coral-mobilenet/images, byte
// for byte. (OpenCV's decode of these equals PIL's, docs/data.md.)

#include "support/paths.h"
#include "xfer/transforms/image.h"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

namespace {

TEST(DecodeShared, RealJpegsGiveOpenCvsPixels) {
  const auto shared = xfer::testing::shared_dir();
  XFER_REQUIRE_SHARED(shared / "data" / "hymenoptera");
  std::vector<std::filesystem::path> files;
  for (const auto& dir :
       {shared / "data" / "hymenoptera", shared / "weights" / "coral-mobilenet" / "images"}) {
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& item : std::filesystem::recursive_directory_iterator(dir)) {
      auto extension = item.path().extension().string();
      std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
      if (extension == ".jpg" || extension == ".jpeg") files.push_back(item.path());
    }
  }
  ASSERT_GE(files.size(), 390u);
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    const cv::Mat bgr = cv::imdecode(bytes, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    const auto image = xfer::transforms::decode_image(bytes, file.string());
    ASSERT_EQ(image.height, bgr.rows) << file;
    ASSERT_EQ(image.width, bgr.cols) << file;
    size_t differ = 0;
    for (int y = 0; y < bgr.rows; ++y) {
      for (int x = 0; x < bgr.cols; ++x) {
        const auto& pixel = bgr.at<cv::Vec3b>(y, x);
        for (int c = 0; c < 3; ++c) differ += image.at(y, x, c) != pixel[2 - c];
      }
    }
    EXPECT_EQ(differ, 0u) << file;
  }
}

}  // namespace
