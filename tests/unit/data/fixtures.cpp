#include "fixtures.h"

#include <zlib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <fstream>

namespace xfer::testing {

uint8_t fixture_pixel(int64_t record, int64_t y, int64_t x, int64_t c) {
  return static_cast<uint8_t>((record * 31 + y * 7 + x * 3 + c * 50) % 256);
}

void write_file(const std::filesystem::path& file, const std::vector<uint8_t>& bytes, bool gzip) {
  std::filesystem::create_directories(file.parent_path());
  if (gzip) {
    gzFile out = gzopen(file.c_str(), "wb");
    ASSERT_NE(out, nullptr) << file;
    ASSERT_EQ(gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    gzclose(out);
    return;
  }
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << file;
}

std::vector<uint8_t> cifar_records(const std::vector<int>& labels, bool cifar100,
                                   int64_t first_record) {
  std::vector<uint8_t> bytes;
  for (size_t r = 0; r < labels.size(); ++r) {
    if (cifar100) bytes.push_back(static_cast<uint8_t>(labels[r] % 20));
    bytes.push_back(static_cast<uint8_t>(labels[r]));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x)
          bytes.push_back(fixture_pixel(first_record + static_cast<int64_t>(r), y, x, c));
  }
  return bytes;
}

std::filesystem::path write_cifar10(const std::filesystem::path& dir, int per_batch, int test) {
  int64_t record = 0;
  for (int b = 1; b <= 5; ++b) {
    std::vector<int> labels;
    for (int i = 0; i < per_batch; ++i) labels.push_back(static_cast<int>((record + i) % 10));
    write_file(dir / ("data_batch_" + std::to_string(b) + ".bin"),
               cifar_records(labels, false, record));
    record += per_batch;
  }
  std::vector<int> labels;
  for (int i = 0; i < test; ++i) labels.push_back(i % 10);
  write_file(dir / "test_batch.bin", cifar_records(labels, false, 0));
  std::ofstream meta(dir / "batches.meta.txt");
  meta << "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
  return dir;
}

std::filesystem::path write_cifar100(const std::filesystem::path& dir, int train, int test) {
  for (const auto& [name, count] : {std::pair{"train.bin", train}, std::pair{"test.bin", test}}) {
    std::vector<int> labels;
    for (int i = 0; i < count; ++i) labels.push_back(i % 100);
    write_file(dir / name, cifar_records(labels, true));
  }
  std::ofstream fine(dir / "fine_label_names.txt");
  for (int i = 0; i < 100; ++i) fine << "fine" << i << "\n";
  std::ofstream coarse(dir / "coarse_label_names.txt");
  for (int i = 0; i < 20; ++i) coarse << "coarse" << i << "\n";
  return dir;
}

std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims,
                               const std::vector<uint8_t>& data) {
  std::vector<uint8_t> bytes;
  const auto put = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(v >> shift));
  };
  put(magic);
  for (const auto d : dims) put(d);
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

std::filesystem::path write_idx_dataset(const std::filesystem::path& dir, int train, int test,
                                        bool gzip, int64_t rows, int64_t columns) {
  const std::string suffix = gzip ? ".gz" : "";
  for (const auto& [prefix, count] : {std::pair{"train", train}, std::pair{"t10k", test}}) {
    std::vector<uint8_t> pixels;
    std::vector<uint8_t> labels;
    for (int i = 0; i < count; ++i) {
      labels.push_back(static_cast<uint8_t>(i % 10));
      for (int64_t y = 0; y < rows; ++y)
        for (int64_t x = 0; x < columns; ++x) pixels.push_back(fixture_pixel(i, y, x, 0));
    }
    write_file(dir / (std::string(prefix) + "-images-idx3-ubyte" + suffix),
               idx_bytes(0x803,
                         {static_cast<uint32_t>(count), static_cast<uint32_t>(rows),
                          static_cast<uint32_t>(columns)},
                         pixels),
               gzip);
    write_file(dir / (std::string(prefix) + "-labels-idx1-ubyte" + suffix),
               idx_bytes(0x801, {static_cast<uint32_t>(count)}, labels), gzip);
  }
  return dir;
}

void write_png(const std::filesystem::path& file, int64_t height, int64_t width, int64_t record) {
  std::filesystem::create_directories(file.parent_path());
  cv::Mat mat(static_cast<int>(height), static_cast<int>(width), CV_8UC3);
  for (int y = 0; y < mat.rows; ++y)
    for (int x = 0; x < mat.cols; ++x)
      for (int c = 0; c < 3; ++c)  // OpenCV stores BGR
        mat.at<cv::Vec3b>(y, x)[2 - c] = fixture_pixel(record, y, x, c);
  ASSERT_TRUE(cv::imwrite(file.string(), mat)) << file;
}

}  // namespace xfer::testing
