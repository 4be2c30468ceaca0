#include "xfer/transforms/image.h"

#include "xfer/core/error.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <fstream>

namespace xfer::transforms {
namespace {

bool starts_with(const std::vector<uint8_t>& head, std::initializer_list<int> bytes,
                 size_t offset = 0) {
  if (head.size() < offset + bytes.size()) return false;
  size_t i = offset;
  for (const int b : bytes) {
    if (head[i++] != static_cast<uint8_t>(b)) return false;
  }
  return true;
}

// OpenCV decodes BGR; torchvision's images are RGB.
Image from_mat(const cv::Mat& mat) {
  Image image;
  image.height = mat.rows;
  image.width = mat.cols;
  image.channels = 3;
  image.pixels.resize(static_cast<size_t>(mat.rows) * static_cast<size_t>(mat.cols) * 3);
  uint8_t* out = image.pixels.data();
  for (int y = 0; y < mat.rows; ++y) {
    const uint8_t* row = mat.ptr<uint8_t>(y);
    for (int x = 0; x < mat.cols; ++x, out += 3, row += 3) {
      out[0] = row[2];
      out[1] = row[1];
      out[2] = row[0];
    }
  }
  return image;
}

constexpr int kDecodeFlags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;

}  // namespace

Image Image::filled(int64_t height, int64_t width, int64_t channels, uint8_t fill) {
  if (height < 0 || width < 0) {
    throw InvalidArgument("image: expected a size >= 0, got " + std::to_string(height) + "x" +
                          std::to_string(width));
  }
  if (channels != 1 && channels != 3) {
    throw InvalidArgument("image: expected 1 or 3 channels, got " + std::to_string(channels));
  }
  Image image;
  image.height = height;
  image.width = width;
  image.channels = channels;
  image.pixels.assign(static_cast<size_t>(height * width * channels), fill);
  return image;
}

std::string sniff_image_format(const std::vector<uint8_t>& head) {
  if (head.empty()) return "empty file";
  if (starts_with(head, {0xff, 0xd8, 0xff})) return "JPEG";
  if (starts_with(head, {0x89, 'P', 'N', 'G'})) return "PNG";
  if (starts_with(head, {'G', 'I', 'F', '8'})) return "GIF";
  if (starts_with(head, {'B', 'M'})) return "BMP";
  if (starts_with(head, {'R', 'I', 'F', 'F'}) && starts_with(head, {'W', 'E', 'B', 'P'}, 8)) {
    return "WebP";
  }
  if (starts_with(head, {'I', 'I', 42, 0}) || starts_with(head, {'M', 'M', 0, 42})) return "TIFF";
  std::string bytes;
  char hex[4];
  for (size_t i = 0; i < std::min<size_t>(head.size(), 4); ++i) {
    std::snprintf(hex, sizeof hex, i == 0 ? "%02x" : " %02x", head[i]);
    bytes += hex;
  }
  return "unknown format (starts with " + bytes + ")";
}

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& origin) {
  const std::string format = sniff_image_format(bytes);
  if (format == "empty file") throw FormatError(origin + ": cannot decode an empty file");
  if (format == "GIF") {
    throw FormatError(origin +
                      ": GIF image, which xfer does not decode (expected JPEG, PNG, BMP, "
                      "WebP or TIFF)");
  }
  cv::Mat mat;
  try {
    mat = cv::imdecode(
        cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data())),
        kDecodeFlags);
  } catch (const cv::Exception& e) {
    throw FormatError(origin + ": " + format + " does not decode: " + e.what());
  }
  if (mat.empty()) {
    if (format.rfind("unknown", 0) == 0) {
      throw FormatError(origin + ": not a JPEG, PNG, BMP, WebP or TIFF image: " + format);
    }
    throw FormatError(origin + ": " + format + " data does not decode (corrupt or truncated)");
  }
  return from_mat(mat);
}

Image decode_image(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError(file.string() + ": cannot open for reading");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(size);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    throw IoError(file.string() + ": read failed after " + std::to_string(in.gcount()) + " of " +
                  std::to_string(size) + " bytes");
  }
  return decode_image(bytes, file.string());
}

}  // namespace xfer::transforms
