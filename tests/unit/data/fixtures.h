#pragma once
// Tiny datasets written at test time, in each format xfer reads.

#include "xfer/core/error.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::testing {

/// The pixel byte at (record, row, column, channel) of every generated dataset.
uint8_t fixture_pixel(int64_t record, int64_t y, int64_t x, int64_t c);

/// Writes `bytes` to `file`, gzipped when `gzip`.
void write_file(const std::filesystem::path& file, const std::vector<uint8_t>& bytes,
                bool gzip = false);

/// The records of a CIFAR batch: label byte(s) then the R, G and B planes of fixture_pixel.
/// `labels` are fine labels; for CIFAR-100 the coarse label is label % 20.
std::vector<uint8_t> cifar_records(const std::vector<int>& labels, bool cifar100,
                                   int64_t first_record = 0);

/// A CIFAR-10 directory: data_batch_1..5.bin with `per_batch` records each (labels cycling
/// 0..9), test_batch.bin with `test` records, batches.meta.txt.
std::filesystem::path write_cifar10(const std::filesystem::path& dir, int per_batch, int test);

/// A CIFAR-100 directory: train.bin and test.bin (fine labels cycling 0..99), both name files.
std::filesystem::path write_cifar100(const std::filesystem::path& dir, int train, int test);

/// IDX bytes: magic, big-endian dims, then `data`.
std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims,
                               const std::vector<uint8_t>& data);

/// An (Fashion-)MNIST directory of `rows`×`columns` images, labels cycling 0..9, gzipped or not.
std::filesystem::path write_idx_dataset(const std::filesystem::path& dir, int train, int test,
                                        bool gzip, int64_t rows = 6, int64_t columns = 5);

/// Writes a PNG of `height`×`width` RGB fixture pixels.
void write_png(const std::filesystem::path& file, int64_t height, int64_t width, int64_t record);

/// Asserts that `statement` throws `type` with `substring` in its message.
#define EXPECT_THROW_WITH(statement, type, substring)                                  \
  do {                                                                                 \
    try {                                                                              \
      statement;                                                                       \
      ADD_FAILURE() << "expected " #type " containing '" << (substring) << "'";        \
    } catch (const type& e) {                                                          \
      EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what(); \
    }                                                                                  \
  } while (0)

}  // namespace xfer::testing
