#include "xfer/transforms/image.h"

#include "xfer/core/error.h"

// jpeglib.h needs FILE and size_t declared first.
#include <cstddef>
#include <cstdio>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <utility>

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

// The library never prints: OpenCV's own log (TIFF and WebP warnings, and more) is turned off
// once, before the first decode. (OpenCV 4.6 still writes a line to std::cerr when a BMP or TIFF
// decoder throws; docs/data.md says which files can do that.)
void silence_opencv() {
  static std::once_flag once;
  std::call_once(once,
                 [] { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT); });
}

// kMaxImagePixels (537 MB of RGB) and kMaxImageSide, from the header of every format before any
// decoder allocates. OpenCV's own limit, 2^30 pixels, let a file of a few hundred bytes make it
// allocate 3 GiB (and progressive JPEG's coefficients 2 GB more).
void check_decoded_size(uint64_t height, uint64_t width, const std::string& format,
                        const std::string& origin, int64_t max_pixels) {
  constexpr auto kSide = static_cast<uint64_t>(kMaxImageSide);
  if (width > kSide || height > kSide || width * height > static_cast<uint64_t>(max_pixels)) {
    throw FormatError(origin + ": " + format + " image of " + std::to_string(height) + "x" +
                      std::to_string(width) +
                      " pixels, larger than xfer decodes (expected at most 2^20 a side and " +
                      std::to_string(max_pixels) + " pixels in all" +
                      (max_pixels == kMaxImagePixels ? ", as PIL)" : ")"));
  }
}

// PNG goes through libpng here rather than cv::imdecode, whose decoder leaves libpng's default
// handlers in place: they print "libpng warning: iCCP: known incorrect sRGB profile" for many
// valid files and "libpng error: ..." for corrupt ones. The transformations are those of
// OpenCV 4.6's PngDecoder::readData for IMREAD_COLOR (16 bits stripped to their high byte, alpha
// and tRNS dropped, palette expanded, grey replicated, Adam7 deinterlaced), so the pixels are the
// ones cv::imdecode gives, in RGB order.
struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t offset;
};

void read_png_bytes(png_structp png, png_bytep out, png_size_t count) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (count > source->size - source->offset) png_error(png, "PNG input is incomplete");
  std::memcpy(out, source->data + source->offset, count);
  source->offset += count;
}

[[noreturn]] void on_png_error(png_structp png, png_const_charp) { png_longjmp(png, 1); }

void on_png_warning(png_structp, png_const_charp) {}

// The libpng state of one decode; no C++ object lives across its setjmp points.
struct PngReader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngSource source{};

  PngReader(const std::vector<uint8_t>& bytes) : source{bytes.data(), bytes.size(), 0} {
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, on_png_error, on_png_warning);
    if (png != nullptr) info = png_create_info_struct(png);
  }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;
  ~PngReader() { png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr); }

  // Reads the header and sets up the transformations; false when the data does not decode.
  bool start(png_uint_32& width, png_uint_32& height) {
    if (png == nullptr || info == nullptr) return false;
    if (setjmp(png_jmpbuf(png)) != 0) return false;
    png_set_read_fn(png, &source, read_png_bytes);
    png_read_info(png, info);
    int depth = 0;
    int color = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color, nullptr, nullptr, nullptr);
    if (depth == 16) png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((color & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if ((color & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    return png_get_rowbytes(png, info) == static_cast<png_size_t>(width) * 3;
  }

  // Reads every row into `rows` and the rest of the file; false when the data does not decode.
  bool finish(png_bytepp rows) {
    if (setjmp(png_jmpbuf(png)) != 0) return false;
    png_read_image(png, rows);
    png_read_end(png, nullptr);
    return true;
  }
};

Image decode_png(const std::vector<uint8_t>& bytes, const std::string& origin,
                 int64_t max_pixels) {
  PngReader reader(bytes);
  png_uint_32 width = 0;
  png_uint_32 height = 0;
  if (!reader.start(width, height)) {
    throw FormatError(origin + ": PNG data does not decode (corrupt or truncated)");
  }
  check_decoded_size(height, width, "PNG", origin, max_pixels);
  Image image;
  image.height = height;
  image.width = width;
  image.channels = 3;
  image.pixels.resize(static_cast<size_t>(height) * width * 3);
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) {
    rows[y] = &image.pixels[static_cast<size_t>(y) * width * 3];
  }
  if (!reader.finish(rows.data())) {
    throw FormatError(origin + ": PNG data does not decode (corrupt or truncated)");
  }
  return image;
}

// JPEG goes through libjpeg-turbo here, straight into RGB rows: cv::imdecode of Debian's
// OpenCV 4.6 decodes to RGB with the same library and settings (JDCT_ISLOW, fancy upsampling),
// then swaps to BGR, which from_mat swaps back; two passes over every pixel that cost about a
// fifth of the loader's time. The pixels are the same bytes. A file that ends before its image
// data does ("Premature end of JPEG file") is bad, as PIL raises "image file is truncated" for
// it, where OpenCV would fill the rest with grey. CMYK and YCCK files are left to OpenCV.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  bool truncated;
};

[[noreturn]] void on_jpeg_error(j_common_ptr info) {
  std::longjmp(reinterpret_cast<JpegErrors*>(info->err)->jump, 1);
}

// The end of the data stops the decode at once: libjpeg would go on with zeros to the last row,
// and a progressive file of 300 bytes whose header says 14080x12079 took 12 s (found by fuzzing).
void on_jpeg_message(j_common_ptr info, int level) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  if (level < 0 && errors->manager.msg_code == JWRN_JPEG_EOF) {
    errors->truncated = true;
    std::longjmp(errors->jump, 1);
  }
}

void no_jpeg_output(j_common_ptr) {}

// The libjpeg state of one decode; no C++ object lives across its setjmp points.
struct JpegReader {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  bool created = false;

  JpegReader() = default;
  JpegReader(const JpegReader&) = delete;
  JpegReader& operator=(const JpegReader&) = delete;
  ~JpegReader() {
    if (created) jpeg_destroy_decompress(&info);
  }

  // Reads the header; false when it does not decode. The size is then in image_height and
  // image_width, before anything proportional to it is allocated.
  bool read_header(const std::vector<uint8_t>& bytes) {
    info.err = jpeg_std_error(&errors.manager);
    errors.manager.error_exit = on_jpeg_error;
    errors.manager.emit_message = on_jpeg_message;
    errors.manager.output_message = no_jpeg_output;
    if (setjmp(errors.jump) != 0) return false;
    jpeg_create_decompress(&info);
    created = true;
    jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&info, TRUE);
    return true;
  }

  // Starts decompressing to RGB (a progressive file allocates all its coefficients here); false
  // when it does not decode.
  bool start() {
    if (setjmp(errors.jump) != 0) return false;
    info.out_color_space = JCS_RGB;
    info.out_color_components = 3;
    jpeg_start_decompress(&info);
    return info.output_components == 3;
  }

  // Decodes every row into `pixels` (output_height × output_width × 3 bytes); false when the
  // data does not decode.
  bool finish(uint8_t* pixels) {
    if (setjmp(errors.jump) != 0) return false;
    const size_t stride = static_cast<size_t>(info.output_width) * 3;
    while (info.output_scanline < info.output_height) {
      JSAMPROW row = pixels + static_cast<size_t>(info.output_scanline) * stride;
      if (jpeg_read_scanlines(&info, &row, 1) != 1) return false;
    }
    return true;
  }
};

// nullopt for a CMYK or YCCK file, which OpenCV decodes.
std::optional<Image> decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& origin,
                                 int64_t max_pixels) {
  const std::string corrupt = origin + ": JPEG data does not decode (corrupt or truncated)";
  JpegReader reader;
  if (!reader.read_header(bytes)) throw FormatError(corrupt);
  check_decoded_size(reader.info.image_height, reader.info.image_width, "JPEG", origin,
                     max_pixels);
  if (reader.info.num_components == 4) return std::nullopt;
  const std::string truncated =
      origin + ": JPEG data is truncated (the file ends before the image does)";
  if (!reader.start()) throw FormatError(reader.errors.truncated ? truncated : corrupt);
  Image image;
  image.height = reader.info.output_height;
  image.width = reader.info.output_width;
  image.channels = 3;
  image.pixels.resize(static_cast<size_t>(image.height * image.width * 3));
  if (!reader.finish(image.pixels.data())) {
    throw FormatError(reader.errors.truncated ? truncated : corrupt);
  }
  return image;
}

uint32_t little_endian(const std::vector<uint8_t>& bytes, size_t offset, size_t count) {
  uint32_t value = 0;
  for (size_t i = count; i-- > 0;) value = (value << 8) | bytes[offset + i];
  return value;
}

// Whether a BMP's headers and, when uncompressed, its pixel rows are all there: OpenCV 4.6's BMP
// decoder writes "imdecode_(''): can't read ..." to std::cerr when they are not, so a cut file
// is caught here first. (A cut run-length-encoded BMP still reaches it.)
bool bmp_is_whole(const std::vector<uint8_t>& bytes) {
  if (bytes.size() < 18) return false;
  const uint32_t pixels_at = little_endian(bytes, 10, 4);
  const uint32_t header = little_endian(bytes, 14, 4);
  if (header < 12 || bytes.size() < 14 + static_cast<size_t>(header)) return false;
  int64_t width = 0;
  int64_t height = 0;
  uint32_t bits = 0;
  uint32_t compression = 0;
  if (header == 12) {  // OS/2 BITMAPCOREHEADER
    width = little_endian(bytes, 18, 2);
    height = little_endian(bytes, 20, 2);
    bits = little_endian(bytes, 24, 2);
  } else if (header >= 40) {
    width = static_cast<int32_t>(little_endian(bytes, 18, 4));
    height = static_cast<int32_t>(little_endian(bytes, 22, 4));
    bits = little_endian(bytes, 28, 2);
    compression = little_endian(bytes, 30, 4);
  } else {
    return true;  // an unusual header: left to OpenCV
  }
  if (compression != 0 && compression != 3) return true;  // RLE and others: left to OpenCV
  if (width <= 0 || bits == 0) return true;
  const uint64_t stride = (static_cast<uint64_t>(width) * (bits == 15 ? 16 : bits) + 31) / 32 * 4;
  const uint64_t rows = static_cast<uint64_t>(height < 0 ? -height : height);
  return bytes.size() >= pixels_at + stride * rows;
}

// Height and width as OpenCV 4.6's BMP decoder reads them (BmpDecoder::readHeader: a header of
// 36 bytes or more holds signed 32-bit sizes, a negative height meaning top-down rows, an OS/2
// one of 12 bytes unsigned 16-bit ones); nullopt when OpenCV would refuse the header.
std::optional<std::pair<uint64_t, uint64_t>> bmp_size(const std::vector<uint8_t>& bytes) {
  if (bytes.size() < 18) return std::nullopt;
  const uint32_t header = little_endian(bytes, 14, 4);
  if (header >= 36 && bytes.size() >= 26) {
    const int64_t width = static_cast<int32_t>(little_endian(bytes, 18, 4));
    const int64_t height = static_cast<int32_t>(little_endian(bytes, 22, 4));
    return std::pair<uint64_t, uint64_t>(height < 0 ? -height : height,
                                         width < 0 ? -width : width);
  }
  if (header == 12 && bytes.size() >= 22) {
    return std::pair<uint64_t, uint64_t>(little_endian(bytes, 20, 2),
                                         little_endian(bytes, 18, 2));
  }
  return std::nullopt;
}

// Height and width as libwebp's WebPGetFeatures reads them, which OpenCV 4.6's WebP decoder
// allocates for: the canvas of a VP8X file, else the frame of the VP8 or VP8L chunk that follows
// the RIFF header; nullopt when none is there.
std::optional<std::pair<uint64_t, uint64_t>> webp_size(const std::vector<uint8_t>& bytes) {
  if (starts_with(bytes, {'V', 'P', '8', 'X'}, 12) && bytes.size() >= 30) {
    return std::pair<uint64_t, uint64_t>(uint64_t{1} + little_endian(bytes, 27, 3),
                                         uint64_t{1} + little_endian(bytes, 24, 3));
  }
  if (starts_with(bytes, {'V', 'P', '8', ' '}, 12) && starts_with(bytes, {0x9d, 0x01, 0x2a}, 23) &&
      bytes.size() >= 30) {
    return std::pair<uint64_t, uint64_t>(little_endian(bytes, 28, 2) & 0x3fff,
                                         little_endian(bytes, 26, 2) & 0x3fff);
  }
  if (!starts_with(bytes, {'V', 'P', '8', 'L'}, 12) || bytes.size() < 25 || bytes[20] != 0x2f) {
    return std::nullopt;
  }
  const uint32_t bits = little_endian(bytes, 21, 4);
  return std::pair<uint64_t, uint64_t>(((bits >> 14) & 0x3fff) + 1, (bits & 0x3fff) + 1);
}

// Height and width of a TIFF's first image, the one OpenCV 4.6 decodes (libtiff's first
// directory, classic or BigTIFF, either byte order): the largest ImageLength and ImageWidth among
// its entries of any integer type, so that no duplicate can hide a larger size; nullopt when the
// directory is cut or lacks one of them (libtiff refuses the file then).
std::optional<std::pair<uint64_t, uint64_t>> tiff_size(const std::vector<uint8_t>& bytes) {
  if (bytes.size() < 8) return std::nullopt;
  const bool big = bytes[0] == 'M';
  auto read = [&](uint64_t offset, size_t count) -> std::optional<uint64_t> {
    if (offset > bytes.size() || count > bytes.size() - offset) return std::nullopt;
    uint64_t value = 0;
    for (size_t i = 0; i < count; ++i) {
      const uint8_t byte = bytes[offset + (big ? i : count - 1 - i)];
      value = (value << 8) | byte;
    }
    return value;
  };
  const bool bigtiff = read(2, 2) == 43u;
  const size_t word = bigtiff ? 8 : 4;          // offsets and inline values
  const size_t count_size = bigtiff ? 8 : 2;    // entries in a directory
  const size_t entry_size = bigtiff ? 20 : 12;
  const auto directory = read(bigtiff ? 8 : 4, word);
  if (!directory) return std::nullopt;
  const auto entries = read(*directory, count_size);
  if (!entries) return std::nullopt;
  std::optional<uint64_t> height;
  std::optional<uint64_t> width;
  for (uint64_t e = 0; e < *entries; ++e) {
    const uint64_t at = *directory + count_size + e * entry_size;
    const auto tag = read(at, 2);
    const auto type = read(at + 2, 2);
    if (!tag || !type) return std::nullopt;
    if (*tag != 256 && *tag != 257) continue;
    size_t size = 0;  // BYTE, SHORT, LONG, LONG8 and their signed twins
    switch (*type) {
      case 1: case 6: size = 1; break;
      case 3: case 8: size = 2; break;
      case 4: case 9: size = 4; break;
      case 16: case 17: size = 8; break;
      default: continue;
    }
    auto value_at = at + 4 + word;
    if (size > word) {
      const auto pointer = read(value_at, word);
      if (!pointer) return std::nullopt;
      value_at = *pointer;
    }
    const auto value = read(value_at, size);
    if (!value) return std::nullopt;
    auto& field = *tag == 256 ? width : height;
    field = std::max(field.value_or(0), *value);
  }
  if (!height || !width) return std::nullopt;
  return std::pair<uint64_t, uint64_t>(*height, *width);
}

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
  // Classic TIFF and BigTIFF, the signatures OpenCV 4.6's TIFF decoder takes.
  if (starts_with(head, {'I', 'I', 42, 0}) || starts_with(head, {'M', 'M', 0, 42}) ||
      starts_with(head, {'I', 'I', 43, 0}) || starts_with(head, {'M', 'M', 0, 43})) {
    return "TIFF";
  }
  std::string bytes;
  char hex[4];
  for (size_t i = 0; i < std::min<size_t>(head.size(), 4); ++i) {
    std::snprintf(hex, sizeof hex, i == 0 ? "%02x" : " %02x", head[i]);
    bytes += hex;
  }
  return "unknown format (starts with " + bytes + ")";
}

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& origin,
                   int64_t max_pixels) {
  if (max_pixels < 1 || max_pixels > kMaxImagePixels) {
    throw InvalidArgument(origin + ": max_pixels: expected 1 to " +
                          std::to_string(kMaxImagePixels) + ", got " +
                          std::to_string(max_pixels));
  }
  const std::string format = sniff_image_format(bytes);
  if (format == "empty file") throw FormatError(origin + ": cannot decode an empty file");
  if (format == "GIF") {
    throw FormatError(origin +
                      ": GIF image, which xfer does not decode (expected JPEG, PNG, BMP, "
                      "WebP or TIFF)");
  }
  if (format == "JPEG") {
    if (auto image = decode_jpeg(bytes, origin, max_pixels)) return std::move(*image);
  }
  if (format == "PNG") return decode_png(bytes, origin, max_pixels);
  if (format == "BMP" && !bmp_is_whole(bytes)) {
    throw FormatError(origin + ": BMP data does not decode (corrupt or truncated)");
  }
  // cv::imdecode would also decode PNM, PAM, PFM, Sun raster, Radiance HDR and JPEG 2000, with
  // no size limit of xfer's and outside what xfer promises to read.
  if (format.rfind("unknown", 0) == 0) {
    throw FormatError(origin + ": not a JPEG, PNG, BMP, WebP or TIFF image: " + format);
  }
  const auto size = format == "BMP"    ? bmp_size(bytes)
                    : format == "WebP" ? webp_size(bytes)
                    : format == "TIFF" ? tiff_size(bytes)
                                       : std::nullopt;
  if (size) check_decoded_size(size->first, size->second, format, origin, max_pixels);
  silence_opencv();
  cv::Mat mat;
  try {
    mat = cv::imdecode(
        cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data())),
        kDecodeFlags);
  } catch (const cv::Exception& e) {
    throw FormatError(origin + ": " + format + " does not decode: " + e.what());
  }
  if (mat.empty()) {
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
