#pragma once
// An 8-bit image in memory, height × width × channels, the type every transform works on (as
// torchvision's transforms work on PIL images before ToTensor).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::transforms {

/// An 8-bit image, rows top to bottom, pixels left to right, channels interleaved (HWC):
/// 1 channel (grey) or 3 (RGB). `pixels.size() == height * width * channels`.
struct Image {
  /// Rows.
  int64_t height = 0;
  /// Columns.
  int64_t width = 0;
  /// 1 (grey) or 3 (RGB).
  int64_t channels = 3;
  /// height × width × channels bytes.
  std::vector<uint8_t> pixels;

  /// An image of the given size with every byte set to `fill`.
  /// Throws InvalidArgument for a negative size or channels other than 1 and 3.
  static Image filled(int64_t height, int64_t width, int64_t channels, uint8_t fill = 0);

  /// The byte at row `y`, column `x`, channel `c` (no bounds check).
  uint8_t at(int64_t y, int64_t x, int64_t c) const {
    return pixels[static_cast<size_t>((y * width + x) * channels + c)];
  }
  /// Whether the image has no pixel.
  bool empty() const { return height == 0 || width == 0; }
};

/// The most pixels (height × width) decode_image decodes: PIL's limit, `Image.MAX_IMAGE_PIXELS`
/// × 2, above which `Image.open` (and so torchvision's ImageFolder) raises DecompressionBombError.
/// Read from the header and checked before any decoder allocates.
inline constexpr int64_t kMaxImagePixels = 178956970;

/// The longest side decode_image decodes: OpenCV's limit, 2^20.
inline constexpr int64_t kMaxImageSide = int64_t{1} << 20;

/// Decodes an image file (JPEG, PNG, BMP, WebP, TIFF, through OpenCV) to RGB, as torchvision's
/// ImageFolder does with PIL's `convert("RGB")`: grey is replicated, alpha dropped, EXIF
/// orientation ignored. Throws IoError when the file cannot be read, FormatError when it does not
/// decode or its header gives more than kMaxImagePixels or a side longer than kMaxImageSide (the
/// message names the file and what its first bytes say it is).
Image decode_image(const std::filesystem::path& file);

/// Decodes an encoded image held in memory, as decode_image. `origin` names it in errors.
/// `max_pixels` (1 to kMaxImagePixels) lowers the size limit, for a caller that must bound the
/// time and memory a file can cost (the image fuzzer decodes at most 2^22 pixels).
/// Throws FormatError when the bytes do not decode or are larger than the limits,
/// InvalidArgument for a `max_pixels` outside its range.
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& origin,
                   int64_t max_pixels = kMaxImagePixels);

/// What the first bytes of an encoded image say it is: "JPEG", "PNG", "GIF", "BMP", "WebP",
/// "TIFF", "empty file" or "unknown format (starts with 3c 68 74 6d)".
std::string sniff_image_format(const std::vector<uint8_t>& head);

}  // namespace xfer::transforms
