// Seed corpora: the committed weight fixtures and small inputs generated here, each valid or
// nearly so, so that the fuzzer starts from every branch of a format rather than from nothing.

#include "entries.h"

#include "unit/data/png_writer.h"
#include "unit/pretrained/tflite_builder.h"
#include "xfer/core/error.h"
#include "xfer/data/idx.h"
#include "xfer/pretrained/labels.h"

// jpeglib.h needs FILE and size_t declared first.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace xfer::fuzz {
namespace {

namespace fs = std::filesystem;

std::string read_whole(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in || in.bad()) throw IoError(file.string() + ": cannot read the fuzz seed fixture");
  return content.str();
}

// The fixtures with `extension`, sorted by name.
std::vector<Seed> fixtures(const std::string& dir, const std::string& extension) {
  std::vector<Seed> out;
  for (const auto& entry : fs::directory_iterator(fs::path(dir) / "weights")) {
    if (entry.path().extension() != extension) continue;
    out.push_back({entry.path().filename().string(), read_whole(entry.path())});
  }
  std::sort(out.begin(), out.end(), [](const Seed& a, const Seed& b) { return a.name < b.name; });
  if (out.empty()) throw IoError(dir + "/weights: no " + extension + " fixture to seed from");
  return out;
}

// --- safetensors ---

std::string safetensors(const std::string& header, const std::string& data) {
  std::string padded = header;
  padded.append((8 - padded.size() % 8) % 8, ' ');
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((padded.size() >> (8 * i)) & 0xFF));
  return out + padded + data;
}

std::vector<Seed> safetensors_seeds(const std::string& fixtures_dir) {
  std::vector<Seed> out = fixtures(fixtures_dir, ".safetensors");
  out.push_back({"empty_header", safetensors("{}", "")});
  out.push_back({"metadata_only", safetensors(R"({"__metadata__":{"format":"pt"}})", "")});
  // One tensor of every dtype, one element each except BOOL's three, and an empty one.
  std::string header = R"({"__metadata__":{"k":"v"})";
  std::string data;
  const std::pair<const char*, size_t> dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2},
                                                   {"F64", 8}, {"I64", 8}, {"I32", 4},
                                                   {"I16", 2}, {"I8", 1},  {"U8", 1}};
  for (const auto& [name, bytes] : dtypes) {
    const size_t begin = data.size();
    data.append(bytes, '\x01');
    header += std::string(R"(,")") + name + R"(":{"dtype":")" + name + R"(","shape":[1],)" +
              R"("data_offsets":[)" + std::to_string(begin) + "," + std::to_string(data.size()) +
              "]}";
  }
  const size_t begin = data.size();
  data += std::string("\x00\x01\x01", 3);
  header += R"(,"flags":{"dtype":"BOOL","shape":[3,1],"data_offsets":[)" + std::to_string(begin) +
            "," + std::to_string(data.size()) + "]}";
  header += R"(,"none":{"dtype":"F32","shape":[0,4],"data_offsets":[)" +
            std::to_string(data.size()) + "," + std::to_string(data.size()) + "]}}";
  out.push_back({"every_dtype", safetensors(header, data)});
  // Refused: overlapping tensors, and a header length past the end.
  out.push_back({"overlap", safetensors(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                        R"("b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
                                        "abc")});
  std::string long_header = safetensors("{}", "");
  long_header[0] = '\x7f';
  out.push_back({"header_past_end", long_header});
  return out;
}

// --- TFLite ---

std::vector<Seed> tflite_seeds() {
  using testing::build_tflite;
  using testing::fake_mobilenet;
  const torch::nn::Module& net = tflite_import_module();
  std::vector<Seed> out;
  out.push_back({"tiny_mobilenet", build_tflite(fake_mobilenet(net, 8, 1))});
  out.push_back({"tiny_backbone", build_tflite(fake_mobilenet(net, 8, 2, false))});

  // Per-channel scales on the stem, float32 pointwise weights, int8 depthwise weights, an ADD.
  testing::FakeModel mixed = fake_mobilenet(net, 8, 3);
  for (auto& tensor : mixed.tensors) {
    if (tensor.name == "conv0/weights") {
      tensor.scale.assign(8, 0.02f);
      tensor.zero_point.assign(8, 128);
    } else if (tensor.name == "conv1/weights") {
      tensor.type = 9;
    } else if (tensor.name == "conv2/weights") {
      tensor.type = 0;
      tensor.scale.clear();
      tensor.zero_point.clear();
      std::vector<uint8_t> floats;
      for (size_t i = 0; i < tensor.data.size(); ++i) {
        const float value = static_cast<float>(tensor.data[i]) / 256.0f;
        const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
        floats.insert(floats.end(), bytes, bytes + 4);
      }
      tensor.data = floats;
    }
  }
  testing::FakeOp add;
  add.opcode = 0;
  add.inputs = {mixed.outputs[0], mixed.outputs[0]};
  add.outputs = {mixed.outputs[0]};
  add.activation = 1;
  mixed.ops.push_back(add);
  out.push_back({"mixed_types", build_tflite(mixed)});

  // Refused: 0-d weights for the stem (one element, so the reader accepts the constant), a custom
  // operator, and two subgraphs.
  testing::FakeModel scalar = fake_mobilenet(net, 8, 6, false);
  for (auto& tensor : scalar.tensors) {
    if (tensor.name == "conv0/weights") {
      tensor.shape.clear();
      tensor.data.resize(1);
    }
  }
  out.push_back({"scalar_stem_weights", build_tflite(scalar)});

  testing::FakeModel custom = fake_mobilenet(net, 8, 4, false);
  custom.ops[0].custom_code = "TFLite_Detection_PostProcess";
  out.push_back({"custom_op", build_tflite(custom)});
  testing::FakeModel two = fake_mobilenet(net, 8, 5, false);
  two.subgraphs = 2;
  out.push_back({"two_subgraphs", build_tflite(two)});
  return out;
}

// --- CIFAR ---

std::string cifar_record(bool cifar100, uint8_t coarse, uint8_t fine, uint8_t shade) {
  std::string record;
  if (cifar100) record.push_back(static_cast<char>(coarse));
  record.push_back(static_cast<char>(fine));
  for (int i = 0; i < 3072; ++i) record.push_back(static_cast<char>((i * 7 + shade) & 0xFF));
  return record;
}

std::vector<Seed> cifar_seeds() {
  const std::string ten("\x00", 1);
  const std::string hundred("\x01", 1);
  const std::string one = cifar_record(false, 0, 3, 0);
  return {
      {"cifar10_one", ten + one},
      {"cifar10_two", ten + one + cifar_record(false, 0, 9, 50)},
      {"cifar10_label_10", ten + cifar_record(false, 0, 10, 0)},
      {"cifar10_truncated", ten + one + one.substr(0, 100)},
      {"cifar10_empty", ten},
      {"cifar100_one", hundred + cifar_record(true, 19, 99, 7)},
      {"cifar100_coarse_20", hundred + cifar_record(true, 20, 1, 7)},
  };
}

// --- IDX ---

std::string big_endian(uint32_t value) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
  return out;
}

std::string gzip(const std::string& raw) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw IoError("fuzz seeds: cannot start gzip compression");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(raw.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw IoError("fuzz seeds: gzip compression failed");
  return out;
}

std::vector<Seed> idx_seeds() {
  const std::string images_selector("\x00", 1);
  const std::string labels_selector("\x01", 1);
  std::string images =
      big_endian(data::kIdxImagesMagic) + big_endian(2) + big_endian(3) + big_endian(3);
  for (int i = 0; i < 18; ++i) images.push_back(static_cast<char>(i * 13));
  std::string labels =
      big_endian(data::kIdxLabelsMagic) + big_endian(4) + std::string("\x00\x09\x03\x05", 4);
  return {
      {"images", images_selector + images},
      {"images_gz", images_selector + gzip(images)},
      {"images_truncated", images_selector + images.substr(0, images.size() - 5)},
      {"images_gz_truncated", images_selector + gzip(images).substr(0, 20)},
      {"labels", labels_selector + labels},
      {"labels_gz", labels_selector + gzip(labels)},
      {"labels_trailing", labels_selector + labels + "xx"},
      {"wrong_magic", labels_selector + images},
  };
}

// --- images ---

// A 13×11 image of `type` (CV_8UC1/3/4, CV_16UC1/3, CV_32FC1) whose samples are a closed-form
// function of (x, y, channel), so that every encoder has edges and colours to code.
cv::Mat pattern(int type) {
  cv::Mat mat(11, 13, type);
  const int channels = mat.channels();
  for (int y = 0; y < mat.rows; ++y) {
    for (int x = 0; x < mat.cols; ++x) {
      for (int c = 0; c < channels; ++c) {
        const int value = (x * 19 + y * 23 + c * 80) % 256;
        const int index = x * channels + c;
        switch (mat.depth()) {
          case CV_8U: mat.ptr<uint8_t>(y)[index] = static_cast<uint8_t>(value); break;
          case CV_16U: mat.ptr<uint16_t>(y)[index] = static_cast<uint16_t>(value * 257); break;
          default: mat.ptr<float>(y)[index] = static_cast<float>(value) / 255.0f; break;
        }
      }
    }
  }
  return mat;
}

std::string encode(const std::string& extension, int type, const std::vector<int>& params = {}) {
  std::vector<uint8_t> out;
  if (!cv::imencode(extension, pattern(type), out, params)) {
    throw IoError("fuzz seeds: cv::imencode cannot write a " + extension + " image");
  }
  return std::string(out.begin(), out.end());
}

// A 16×8 CMYK JPEG written with libjpeg (cv::imencode writes no CMYK); decode_image hands such
// files to OpenCV.
std::string cmyk_jpeg() {
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = 16;
  info.image_height = 8;
  info.input_components = 4;
  info.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 90, TRUE);
  jpeg_start_compress(&info, TRUE);
  std::vector<uint8_t> row(16 * 4);
  while (info.next_scanline < info.image_height) {
    for (size_t i = 0; i < row.size(); ++i) {
      row[i] = static_cast<uint8_t>(i * 13 + info.next_scanline * 31);
    }
    JSAMPROW rows[] = {row.data()};
    jpeg_write_scanlines(&info, rows, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return out;
}

void put_le(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// An 8×4 run-length-encoded 8-bit BMP (BI_RLE8): decode_image leaves it to OpenCV whole, as
// bmp_is_whole checks only uncompressed rows.
std::string rle8_bmp() {
  std::string pixels;
  for (int y = 0; y < 4; ++y) {
    pixels += std::string{'\x08', static_cast<char>(y)};  // a run of 8 pixels of index y
    pixels += std::string("\x00\x00", 2);                 // end of line
  }
  pixels += std::string("\x00\x01", 2);  // end of bitmap
  std::string palette;
  for (int i = 0; i < 4; ++i) put_le(palette, 0x00102030u * static_cast<uint32_t>(i + 1), 4);
  const uint32_t offset = 14 + 40 + static_cast<uint32_t>(palette.size());
  std::string out = "BM";
  put_le(out, offset + static_cast<uint32_t>(pixels.size()), 4);
  put_le(out, 0, 4);
  put_le(out, offset, 4);
  put_le(out, 40, 4);  // BITMAPINFOHEADER
  put_le(out, 8, 4);   // width
  put_le(out, 4, 4);   // height, bottom-up
  put_le(out, 1, 2);   // planes
  put_le(out, 8, 2);   // bits per pixel
  put_le(out, 1, 4);   // BI_RLE8
  put_le(out, static_cast<uint32_t>(pixels.size()), 4);
  put_le(out, 2835, 4);
  put_le(out, 2835, 4);
  put_le(out, 4, 4);  // colours used
  put_le(out, 0, 4);
  return out + palette + pixels;
}

// A 4×3 8-bit grey uncompressed TIFF with one strip, written by hand in either byte order, classic
// or BigTIFF (cv::imencode writes only little-endian classic TIFF).
std::string tiny_tiff(bool big_endian, bool bigtiff) {
  auto put = [big_endian](std::string& out, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      const int shift = 8 * (big_endian ? bytes - 1 - i : i);
      out.push_back(static_cast<char>((value >> shift) & 0xFF));
    }
  };
  const int word = bigtiff ? 8 : 4;
  const std::pair<uint16_t, uint64_t> tags[] = {
      {256, 4}, {257, 3}, {258, 8}, {259, 1}, {262, 1}, {273, 0}, {277, 1}, {278, 3}, {279, 12}};
  const uint64_t count = sizeof tags / sizeof tags[0];
  const uint64_t directory = bigtiff ? 16 : 8;
  const uint64_t pixels = directory + (bigtiff ? 8 : 2) + count * (bigtiff ? 20 : 12) + word;
  std::string out = big_endian ? "MM" : "II";
  put(out, bigtiff ? 43 : 42, 2);
  if (bigtiff) {
    put(out, 8, 2);  // offset size
    put(out, 0, 2);
  }
  put(out, directory, word);
  put(out, count, bigtiff ? 8 : 2);
  for (const auto& [tag, value] : tags) {
    put(out, tag, 2);
    put(out, 4, 2);  // LONG
    put(out, 1, bigtiff ? 8 : 4);
    put(out, tag == 273 ? pixels : value, 4);
    if (bigtiff) put(out, 0, 4);
  }
  put(out, 0, word);  // no next directory
  for (int i = 0; i < 12; ++i) out.push_back(static_cast<char>(i * 21));
  return out;
}

std::vector<Seed> image_seeds() {
  using testing::PngKind;
  using testing::write_png;
  auto png = [](const PngKind& kind) {
    const std::vector<uint8_t> bytes = write_png(kind);
    return Seed{"png_" + kind.name, std::string(bytes.begin(), bytes.end())};
  };
  std::vector<Seed> out{
      {"jpeg_colour", encode(".jpg", CV_8UC3)},
      {"jpeg_grey", encode(".jpg", CV_8UC1)},
      {"jpeg_progressive", encode(".jpg", CV_8UC3, {cv::IMWRITE_JPEG_PROGRESSIVE, 1})},
      {"jpeg_restart", encode(".jpg", CV_8UC3, {cv::IMWRITE_JPEG_RST_INTERVAL, 1})},
      {"jpeg_optimized", encode(".jpg", CV_8UC3, {cv::IMWRITE_JPEG_OPTIMIZE, 1})},
      {"jpeg_cmyk", cmyk_jpeg()},
      png({"rgb8", PNG_COLOR_TYPE_RGB, 8}),
      png({"grey1", PNG_COLOR_TYPE_GRAY, 1}),
      png({"grey16_trns", PNG_COLOR_TYPE_GRAY, 16, false, true}),
      png({"grey_alpha_adam7", PNG_COLOR_TYPE_GRAY_ALPHA, 8, true}),
      png({"palette4_trns", PNG_COLOR_TYPE_PALETTE, 4, false, true}),
      png({"rgba16_adam7", PNG_COLOR_TYPE_RGB_ALPHA, 16, true}),
      {"bmp_colour", encode(".bmp", CV_8UC3)},
      {"bmp_grey", encode(".bmp", CV_8UC1)},
      {"bmp_rle8", rle8_bmp()},
      {"webp_lossy", encode(".webp", CV_8UC3, {cv::IMWRITE_WEBP_QUALITY, 80})},
      {"webp_lossless_alpha", encode(".webp", CV_8UC4, {cv::IMWRITE_WEBP_QUALITY, 101})},
      {"tiff_lzw", encode(".tiff", CV_8UC3)},
      {"tiff_grey16_raw", encode(".tiff", CV_16UC1, {cv::IMWRITE_TIFF_COMPRESSION, 1})},
      {"tiff_float", encode(".tiff", CV_32FC1)},
      {"tiff_big_endian", tiny_tiff(true, false)},
      {"bigtiff", tiny_tiff(false, true)},
      {"bigtiff_big_endian", tiny_tiff(true, true)},
  };
  // Refused: a cut file of each format, a PNG with a broken CRC, a GIF, a PPM (which OpenCV
  // reads), something else, nothing.
  const size_t whole = out.size();
  for (size_t i = 0; i < whole; ++i) {
    const Seed& seed = out[i];
    out.push_back({seed.name + "_cut", seed.bytes.substr(0, seed.bytes.size() * 2 / 3)});
  }
  Seed crc = png({"rgb8", PNG_COLOR_TYPE_RGB, 8});
  crc.name = "png_broken_crc";
  crc.bytes[29] = static_cast<char>(crc.bytes[29] ^ 0x55);  // IHDR's CRC
  out.push_back(crc);
  out.push_back({"gif", std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14)});
  out.push_back({"ppm", "P6\n2 1\n255\nabcdef"});
  out.push_back({"html", "<html><body>not an image</body></html>\n"});
  out.push_back({"empty", ""});
  return out;
}

// --- CIFAR class names ---

std::vector<Seed> cifar_names_seeds() {
  const std::string ten("\x00", 1);
  const std::string hundred_fine("\x01", 1);
  const std::string coarse("\x02", 1);
  std::string cifar10;
  std::string cifar10_crlf;
  for (const auto& name : pretrained::label_names("cifar10")) {
    cifar10 += name + "\n";
    cifar10_crlf += "  " + name + "\t\r\n\r\n";
  }
  std::string fine;
  for (int i = 0; i < 100; ++i) fine += "fine class " + std::to_string(i) + "\n";
  std::string twenty;
  for (int i = 0; i < 20; ++i) twenty += "coarse_" + std::to_string(i) + "\n";
  return {
      {"cifar10", ten + cifar10},
      {"cifar10_crlf_blank_lines", ten + cifar10_crlf},
      {"cifar10_no_final_newline", ten + cifar10.substr(0, cifar10.size() - 1)},
      {"cifar100_fine", hundred_fine + fine},
      {"cifar100_coarse", coarse + twenty},
      // Refused: one name short, one too many, no name at all.
      {"cifar10_nine", ten + cifar10.substr(cifar10.find('\n') + 1)},
      {"cifar100_coarse_21", coarse + twenty + "extra\n"},
      {"blank", ten + " \r\n\t\n"},
  };
}

}  // namespace

std::vector<Seed> seed_corpus(const std::string& target, const std::string& fixtures_dir) {
  if (target == "pth") return fixtures(fixtures_dir, ".pth");
  if (target == "safetensors") return safetensors_seeds(fixtures_dir);
  if (target == "tflite") return tflite_seeds();
  if (target == "cifar") return cifar_seeds();
  if (target == "idx") return idx_seeds();
  if (target == "image") return image_seeds();
  if (target == "cifar_names") return cifar_names_seeds();
  throw InvalidArgument("fuzz seeds: unknown target '" + target +
                        "' (expected pth, safetensors, tflite, cifar, idx, image or cifar_names)");
}

}  // namespace xfer::fuzz
