// Image decoding prints nothing and gives cv::imdecode's pixels: JPEG and PNG go through
// libjpeg-turbo and libpng with xfer's own handlers; cut JPEGs, PNGs and BMPs are bad files,
// silently.

#include "fixtures.h"
#include "png_writer.h"
#include "xfer/core/error.h"
#include "xfer/transforms/image.h"

#include <gtest/gtest.h>
#include <png.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace {

using xfer::FormatError;
using xfer::transforms::decode_image;
using xfer::transforms::Image;

using xfer::testing::PngKind;
using xfer::testing::write_png;

// cv::imdecode's RGB image of `bytes`, as decode_image did it before it read PNG itself.
Image opencv_rgb(const std::vector<uint8_t>& bytes) {
  const cv::Mat mat = cv::imdecode(
      cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data())),
      cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  Image image = Image::filled(mat.rows, mat.cols, 3);
  for (int y = 0; y < mat.rows; ++y) {
    for (int x = 0; x < mat.cols; ++x) {
      const auto& bgr = mat.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c)
        image.pixels[static_cast<size_t>((y * mat.cols + x) * 3 + c)] = bgr[2 - c];
    }
  }
  return image;
}

TEST(Decode, EveryKindOfPngGivesOpenCvsPixels) {
  const std::vector<PngKind> kinds{
      {"rgb8", PNG_COLOR_TYPE_RGB, 8},
      {"rgba8", PNG_COLOR_TYPE_RGB_ALPHA, 8},
      {"grey8", PNG_COLOR_TYPE_GRAY, 8},
      {"grey1", PNG_COLOR_TYPE_GRAY, 1},
      {"grey2", PNG_COLOR_TYPE_GRAY, 2},
      {"grey4", PNG_COLOR_TYPE_GRAY, 4},
      {"grey-alpha8", PNG_COLOR_TYPE_GRAY_ALPHA, 8},
      {"palette8+tRNS", PNG_COLOR_TYPE_PALETTE, 8, false, true},
      {"palette4", PNG_COLOR_TYPE_PALETTE, 4},
      {"palette1", PNG_COLOR_TYPE_PALETTE, 1},
      {"rgb16", PNG_COLOR_TYPE_RGB, 16},
      {"rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16},
      {"grey16", PNG_COLOR_TYPE_GRAY, 16},
      {"grey-alpha16", PNG_COLOR_TYPE_GRAY_ALPHA, 16},
      {"rgb8-adam7", PNG_COLOR_TYPE_RGB, 8, true},
      {"palette2-adam7", PNG_COLOR_TYPE_PALETTE, 2, true},
      {"rgb8+tRNS", PNG_COLOR_TYPE_RGB, 8, false, true},
      {"grey8+tRNS", PNG_COLOR_TYPE_GRAY, 8, false, true},
  };
  for (const auto& kind : kinds) {
    const auto bytes = write_png(kind);
    const Image expected = opencv_rgb(bytes);
    ASSERT_EQ(expected.height, 11) << kind.name;
    const Image got = decode_image(bytes, kind.name);
    EXPECT_EQ(got.height, expected.height) << kind.name;
    EXPECT_EQ(got.width, expected.width) << kind.name;
    EXPECT_EQ(got.channels, 3) << kind.name;
    EXPECT_EQ(got.pixels, expected.pixels) << kind.name;
  }
}

// `bytes` with the CRC of the first chunk of `type` broken.
std::vector<uint8_t> break_crc(std::vector<uint8_t> bytes, const std::string& type) {
  for (size_t at = 8; at + 12 <= bytes.size();) {
    const size_t length = (size_t{bytes[at]} << 24) | (size_t{bytes[at + 1]} << 16) |
                          (size_t{bytes[at + 2]} << 8) | bytes[at + 3];
    if (std::string(bytes.begin() + static_cast<long>(at) + 4,
                    bytes.begin() + static_cast<long>(at) + 8) == type) {
      bytes[at + 8 + length] ^= 0xff;
      return bytes;
    }
    at += 12 + length;
  }
  ADD_FAILURE() << "no " << type << " chunk";
  return bytes;
}

// A PNG with a tEXt chunk inserted after IHDR.
std::vector<uint8_t> with_text_chunk(const std::vector<uint8_t>& png) {
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk{0, 0, 0, 5, 't', 'E', 'X', 't', 'k', 0, 'v', 'a', 'l', 0, 0, 0, 0};
  const size_t after_ihdr = 8 + 12 + 13;
  out.insert(out.end(), png.begin(), png.begin() + static_cast<long>(after_ihdr));
  out.insert(out.end(), chunk.begin(), chunk.end());  // CRC 0: wrong, so libpng warns
  out.insert(out.end(), png.begin() + static_cast<long>(after_ihdr), png.end());
  return out;
}

TEST(Decode, LibpngWarningsAndErrorsPrintNothing) {
  const auto good = write_png({"rgb8", PNG_COLOR_TYPE_RGB, 8});
  const auto warned = with_text_chunk(good);  // a benign ancillary-chunk CRC warning
  ::testing::internal::CaptureStderr();
  const Image decoded = decode_image(warned, "warned.png");
  std::vector<std::string> reasons;
  for (const auto& bad : {std::vector<uint8_t>(good.begin(), good.begin() + 60),
                          std::vector<uint8_t>(good.begin(), good.end() - 12),
                          break_crc(good, "IDAT"), break_crc(good, "IHDR")}) {
    try {
      decode_image(bad, "bad.png");
      reasons.push_back("decoded");
    } catch (const FormatError& e) {
      reasons.push_back(e.what());
    }
  }
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, "");
  EXPECT_EQ(decoded.pixels, opencv_rgb(good).pixels);
  for (const auto& reason : reasons) {
    EXPECT_EQ(reason, "bad.png: PNG data does not decode (corrupt or truncated)");
  }
}

TEST(Decode, CutBmpIsBadWithoutOpenCvPrinting) {
  const cv::Mat pattern(9, 7, CV_8UC3, cv::Scalar(10, 20, 30));
  std::vector<uint8_t> bmp;
  ASSERT_TRUE(cv::imencode(".bmp", pattern, bmp));
  ::testing::internal::CaptureStderr();
  const Image whole = decode_image(bmp, "whole.bmp");
  std::vector<std::string> reasons;
  for (const size_t size : {size_t{3}, size_t{30}, bmp.size() - 1}) {
    try {
      decode_image(std::vector<uint8_t>(bmp.begin(), bmp.begin() + static_cast<long>(size)),
                   "cut.bmp");
      reasons.push_back("decoded");
    } catch (const FormatError& e) {
      reasons.push_back(e.what());
    }
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(whole.height, 9);
  EXPECT_EQ(whole.at(4, 3, 0), 30);  // RGB order
  for (const auto& reason : reasons) {
    EXPECT_EQ(reason, "cut.bmp: BMP data does not decode (corrupt or truncated)");
  }
}

TEST(Decode, JpegGivesOpenCvsPixelsAndACutOneIsBad) {
  cv::Mat pattern(37, 53, CV_8UC3);
  for (int y = 0; y < pattern.rows; ++y) {
    for (int x = 0; x < pattern.cols; ++x) {
      pattern.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uint8_t>(x * 5), static_cast<uint8_t>(y * 7),
                    static_cast<uint8_t>((x * y) % 256));
    }
  }
  cv::Mat grey;
  cv::cvtColor(pattern, grey, cv::COLOR_BGR2GRAY);
  for (const auto& [name, mat, params] :
       {std::tuple<std::string, cv::Mat, std::vector<int>>{"colour", pattern, {}},
        {"grey", grey, {}},
        {"progressive", pattern, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}},
        {"quality 100, restarts",
         pattern,
         {cv::IMWRITE_JPEG_QUALITY, 100, cv::IMWRITE_JPEG_RST_INTERVAL, 2}}}) {
    std::vector<uint8_t> jpeg;
    ASSERT_TRUE(cv::imencode(".jpg", mat, jpeg, params)) << name;
    const Image got = decode_image(jpeg, name);
    const Image expected = opencv_rgb(jpeg);
    EXPECT_EQ(got.height, 37) << name;
    EXPECT_EQ(got.width, 53) << name;
    EXPECT_EQ(got.pixels, expected.pixels) << name;
  }
  std::vector<uint8_t> jpeg;
  ASSERT_TRUE(cv::imencode(".jpg", pattern, jpeg));
  ::testing::internal::CaptureStderr();
  EXPECT_THROW_WITH(
      decode_image(
          std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 2)),
          "cut.jpg"),
      FormatError, "cut.jpg: JPEG data is truncated (the file ends before the image does)");
  EXPECT_THROW_WITH(decode_image(std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + 30), "head.jpg"),
                    FormatError, "head.jpg: JPEG data does not decode (corrupt or truncated)");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

void put(std::vector<uint8_t>& bytes, size_t at, uint32_t value, int count, bool big_endian) {
  for (int i = 0; i < count; ++i) {
    const int shift = 8 * (big_endian ? count - 1 - i : i);
    bytes[at + static_cast<size_t>(i)] = static_cast<uint8_t>((value >> shift) & 0xff);
  }
}

std::vector<uint8_t> encoded(const std::string& extension, const cv::Mat& mat,
                             const std::vector<int>& params = {}) {
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(cv::imencode(extension, mat, bytes, params)) << extension;
  return bytes;
}

// A file of each format whose header says 20000x20000 pixels, a few hundred bytes that would make
// a decoder allocate 1.2 GB (3 GB at 32768x32768 before the limit was PIL's).
TEST(Decode, AHeaderLargerThanPilsLimitIsRefusedBeforeDecoding) {
  constexpr uint32_t kSide = 20000;
  const cv::Mat colour(11, 13, CV_8UC3, cv::Scalar(10, 200, 30));
  const cv::Mat grey(11, 13, CV_8UC1, cv::Scalar(77));
  // name, bytes, the size its header says
  std::vector<std::tuple<std::string, std::vector<uint8_t>, std::string>> files;
  for (const auto& [name, params] :
       {std::pair<std::string, std::vector<int>>{"x.jpg", {}},
        {"progressive.jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}}}) {
    auto jpeg = encoded(".jpg", colour, params);
    for (size_t at = 2; at + 9 < jpeg.size(); ++at) {
      if (jpeg[at] == 0xff && (jpeg[at + 1] == 0xc0 || jpeg[at + 1] == 0xc2)) {
        put(jpeg, at + 5, kSide, 2, true);  // SOF: height, width
        put(jpeg, at + 7, kSide, 2, true);
        break;
      }
    }
    files.emplace_back(name, jpeg, "20000x20000");
  }
  auto png = write_png({"rgb8", PNG_COLOR_TYPE_RGB, 8});
  put(png, 16, kSide, 4, true);  // IHDR: width, height, then its CRC
  put(png, 20, kSide, 4, true);
  put(png, 29, static_cast<uint32_t>(crc32(0, png.data() + 12, 17)), 4, true);
  files.emplace_back("x.png", png, "20000x20000");
  auto bmp = encoded(".bmp", grey);
  put(bmp, 18, kSide, 4, false);
  put(bmp, 22, kSide, 4, false);
  put(bmp, 30, 1, 4, false);  // BI_RLE8, which OpenCV decodes without a check of its own
  files.emplace_back("x.bmp", bmp, "20000x20000");
  auto webp = encoded(".webp", colour, {cv::IMWRITE_WEBP_QUALITY, 101});
  EXPECT_EQ(std::string(webp.begin() + 12, webp.begin() + 16), "VP8L");
  // 14 bits of width - 1, 14 of height - 1 (so 16384 at most), then the alpha and version bits.
  const uint32_t flags = static_cast<uint32_t>(webp[24] & 0xf0) << 24;
  put(webp, 21, flags | 0x3fff | (0x3fff << 14), 4, false);
  files.emplace_back("x.webp", webp, "16384x16384");
  auto tiff = encoded(".tiff", grey, {cv::IMWRITE_TIFF_COMPRESSION, 1});
  const size_t directory = tiff[4] | (tiff[5] << 8);
  for (size_t e = 0; e < static_cast<size_t>(tiff[directory] | (tiff[directory + 1] << 8)); ++e) {
    const size_t at = directory + 2 + e * 12;
    const int tag = tiff[at] | (tiff[at + 1] << 8);
    if (tag == 256 || tag == 257) put(tiff, at + 8, kSide, tiff[at + 2] == 3 ? 2 : 4, false);
  }
  files.emplace_back("x.tiff", tiff, "20000x20000");

  ::testing::internal::CaptureStderr();
  for (const auto& [name, bytes, size] : files) {
    const std::string format = xfer::transforms::sniff_image_format(bytes);
    EXPECT_THROW_WITH(decode_image(bytes, name), FormatError,
                      name + ": " + format + " image of " + size +
                          " pixels, larger than xfer decodes (expected at most 2^20 a side and "
                          "178956970 pixels in all, as PIL)");
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(Decode, MaxPixelsLowersTheLimit) {
  const auto png = write_png({"rgb8", PNG_COLOR_TYPE_RGB, 8});  // 13x11
  EXPECT_EQ(decode_image(png, "a.png", 143).height, 11);
  EXPECT_THROW_WITH(decode_image(png, "a.png", 142), FormatError,
                    "a.png: PNG image of 11x13 pixels, larger than xfer decodes (expected at most "
                    "2^20 a side and 142 pixels in all)");
  EXPECT_THROW_WITH(decode_image(png, "a.png", 0), xfer::InvalidArgument,
                    "a.png: max_pixels: expected 1 to 178956970, got 0");
}

// OpenCV would decode these too; xfer reads only what it promises, with its size limit.
TEST(Decode, FormatsBeyondTheFiveAreRefusedThoughOpenCvReadsThem) {
  const cv::Mat grey(3, 4, CV_8UC1, cv::Scalar(9));
  for (const std::string extension : {".ppm", ".pgm", ".pbm", ".pam", ".pfm", ".hdr", ".ras"}) {
    const cv::Mat mat = extension == ".pfm" || extension == ".hdr"
                            ? cv::Mat(3, 4, CV_32FC3, cv::Scalar(0.5f, 0.25f, 1.0f))
                        : extension == ".ppm" ? cv::Mat(3, 4, CV_8UC3, cv::Scalar(1, 2, 3))
                                              : grey;
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(cv::imencode(extension, mat, bytes)) << extension;
    ASSERT_FALSE(opencv_rgb(bytes).empty()) << extension;
    EXPECT_THROW_WITH(decode_image(bytes, "x" + extension), FormatError,
                      "x" + extension + ": not a JPEG, PNG, BMP, WebP or TIFF image: unknown format");
  }
  // BigTIFF is TIFF, which OpenCV 4.6 reads.
  EXPECT_EQ(xfer::transforms::sniff_image_format({'I', 'I', 43, 0, 8, 0, 0, 0}), "TIFF");
  EXPECT_EQ(xfer::transforms::sniff_image_format({'M', 'M', 0, 43, 0, 8, 0, 0}), "TIFF");
}

}  // namespace
