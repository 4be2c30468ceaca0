// safetensors: a file written by hand from the public spec (by tools/make_weight_fixtures.py, not
// by xfer), round trips, malformed headers, and writing that leaves a whole file or none.

#include "expected_values.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <fstream>
#include <iterator>

namespace {

using xfer::weights::Checkpoint;
using xfer::weights::read_checkpoint;
using xfer::weights::read_checkpoint_bytes;
using xfer::weights::StateDict;
using xfer::weights::write_safetensors;

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A safetensors file with the given header text and data block.
std::string file_with(const std::string& header, const std::string& data) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
  return out + header + data;
}

void expect_format_error(const std::string& bytes, const std::string& needle) {
  try {
    xfer::weights::read_safetensors_bytes(bytes, "bad.safetensors");
    ADD_FAILURE() << "loaded; expected an error containing: " << needle;
  } catch (const xfer::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.safetensors: byte "), std::string::npos) << e.what();
  }
}

TEST(Safetensors, ReadsAFileWrittenByHandFromTheSpec) {
  Checkpoint c = read_checkpoint(xfer::testing::fixtures_dir() / "weights" / "handmade.safetensors");
  EXPECT_EQ(c.format, "safetensors");
  EXPECT_EQ(c.metadata, (std::map<std::string, std::string>{{"format", "pt"},
                                                           {"source", "make_weight_fixtures"}}));
  auto expected = xfer::testing::expected_tensors("handmade.safetensors");
  ASSERT_EQ(c.tensors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& e = expected[i];
    SCOPED_TRACE(e.name);
    EXPECT_EQ(c.tensors[i].key(), e.name);
    const torch::Tensor& t = c.tensors[i].value();
    EXPECT_EQ(t.scalar_type(), xfer::testing::dtype_named(e.dtype));
    EXPECT_EQ(t.sizes().vec(), e.shape);
    torch::Tensor flat = t.to(torch::kFloat64).reshape(-1);
    for (size_t k = 0; k < e.values.size(); ++k) {
      EXPECT_EQ(flat[static_cast<int64_t>(k)].item<double>(), e.values[k]);
    }
  }
}

StateDict sample() {
  StateDict sd;
  sd.insert("conv.weight", torch::arange(24, torch::kFloat32).reshape({2, 3, 4}));
  sd.insert("transposed", torch::arange(6, torch::kFloat64).reshape({2, 3}).t());
  sd.insert("half", torch::tensor({1.5, -2.0}).to(torch::kFloat16));
  sd.insert("brain", torch::tensor({0.25, 8.0}).to(torch::kBFloat16));
  sd.insert("steps", torch::tensor({int64_t{1} << 40, int64_t{-3}}));
  sd.insert("ids", torch::tensor({7, -9}, torch::kInt32));
  sd.insert("short", torch::tensor({-300, 300}, torch::kInt16));
  sd.insert("char", torch::tensor({-100, 100}, torch::kInt8));
  sd.insert("pixels", torch::tensor({0, 255}, torch::kUInt8));
  sd.insert("mask", torch::tensor({true, false}));
  sd.insert("scalar", torch::tensor(3.0));
  sd.insert("empty", torch::zeros({0, 4}));
  return sd;
}

void expect_same(const StateDict& got, const StateDict& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].key(), want[i].key());
    EXPECT_EQ(got[i].value().scalar_type(), want[i].value().scalar_type()) << want[i].key();
    EXPECT_TRUE(torch::equal(got[i].value(), want[i].value())) << want[i].key();
  }
}

TEST(Safetensors, RoundTripKeepsOrderDtypesValuesAndMetadata) {
  auto file = xfer::testing::temp_dir("st-roundtrip") / "w.safetensors";
  write_safetensors(file, sample(), {{"epoch", "4"}, {"model", "resnet18"}});
  Checkpoint c = read_checkpoint(file);
  expect_same(c.tensors, sample());
  EXPECT_EQ(c.metadata.at("epoch"), "4");
  EXPECT_EQ(c.metadata.at("model"), "resnet18");
  // The reference writer's alignment: data starts at a multiple of 8.
  std::string bytes = slurp(file);
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ((8 + header) % 8, 0u);
}

// One file in 256 has a header length whose first byte is 0x80, a pickle's PROTO opcode: such a
// file (a vit_b_32 state dict was one) is still read as safetensors.
TEST(Safetensors, AHeaderLengthStartingWith0x80IsNotTakenForAPickle) {
  const auto file = xfer::testing::temp_dir("safetensors-0x80") / "weights.safetensors";
  for (size_t length = 1; length <= 256; ++length) {
    StateDict tensors;
    tensors.insert(std::string(length, 'w'), torch::arange(6, torch::kFloat).reshape({2, 3}));
    write_safetensors(file, tensors);
    const std::string bytes = slurp(file);
    if (static_cast<uint8_t>(bytes[0]) != 0x80) continue;
    const Checkpoint checkpoint = read_checkpoint(file);
    EXPECT_EQ(checkpoint.format, "safetensors");
    ASSERT_EQ(checkpoint.tensors.size(), 1u);
    EXPECT_TRUE(torch::equal(checkpoint.tensors[std::string(length, 'w')],
                             torch::arange(6, torch::kFloat).reshape({2, 3})));
    return;
  }
  FAIL() << "no key length from 1 to 256 gave a header length whose first byte is 0x80";
}

TEST(Safetensors, WriteRefusesWhatTheFormatCannotHold) {
  auto dir = xfer::testing::temp_dir("st-refuse");
  StateDict reserved;
  reserved.insert("__metadata__", torch::ones(1));
  EXPECT_THROW(write_safetensors(dir / "a.safetensors", reserved), xfer::InvalidArgument);
  StateDict complex;
  complex.insert("z", torch::ones(2, torch::kComplexFloat));
  try {
    write_safetensors(dir / "b.safetensors", complex);
    ADD_FAILURE() << "complex tensor written";
  } catch (const xfer::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'z' has dtype ComplexFloat"), std::string::npos)
        << e.what();
  }
  StateDict undefined;
  undefined.insert("u", torch::Tensor());
  EXPECT_THROW(write_safetensors(dir / "c.safetensors", undefined), xfer::InvalidArgument);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(Safetensors, FailedWriteLeavesNoFileAndNamesThePath) {
  auto dir = xfer::testing::temp_dir("st-fail");
  auto file = dir / "missing-dir" / "w.safetensors";
  try {
    write_safetensors(file, sample());
    ADD_FAILURE() << "written into a missing directory";
  } catch (const xfer::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(Safetensors, OverwriteReplacesWholeFileAndLeavesNoTemporary) {
  auto dir = xfer::testing::temp_dir("st-overwrite");
  write_safetensors(dir / "w.safetensors", sample());
  StateDict small;
  small.insert("x", torch::ones(1));
  write_safetensors(dir / "w.safetensors", small);
  EXPECT_EQ(read_checkpoint(dir / "w.safetensors").tensors.size(), 1u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
}

const std::string kFloats("\0\0\x80?\0\0\0@", 8);  // 1.0f, 2.0f

TEST(Safetensors, MalformedHeadersAreFormatErrors) {
  expect_format_error(file_with("{\"a\":", ""), "not valid JSON");
  expect_format_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", kFloats),
                      "'a' needs dtype, shape and data_offsets");
  expect_format_error(
      file_with("{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", kFloats),
      "'a' has dtype \"C64\"");
  expect_format_error(
      file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", kFloats),
      "outside the 8-byte data block");
  expect_format_error(
      file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", kFloats),
      "'a' shape and dtype need 12 bytes, data_offsets give 8");
  expect_format_error(
      file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", kFloats),
      "'a' shape holds -2");
  expect_format_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                                kFloats),
                      "tensors overlap or leave a gap");
  expect_format_error(
      file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", kFloats),
      "tensors end at data byte 4 but the data block has 8 bytes");
  expect_format_error(file_with("{\"__metadata__\":{\"epoch\":3}}", ""),
                      "__metadata__ value of 'epoch' is not a string");
  expect_format_error(file_with("[1, 2]", ""), "expected a JSON object");
  // A shape whose product overflows 64 bits must not wrap around into a small size.
  expect_format_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],"
                                "\"data_offsets\":[0,0]}}",
                                ""),
                      "'a' shape and dtype need more bytes");
}

TEST(Safetensors, HeaderLengthBeyondTheFileIsRefusedBeforeAllocating) {
  std::string bytes = file_with("{}", "");
  bytes[5] = '\x7f';  // a header length of about 2^47 bytes
  try {
    xfer::weights::read_safetensors_bytes(bytes, "bad.safetensors");
    ADD_FAILURE() << "loaded";
  } catch (const xfer::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.safetensors: byte 0: safetensors header length"),
              std::string::npos)
        << e.what();
  }
}

TEST(Safetensors, EveryPrefixIsAFormatErrorAndEveryByteFlipReadsOrIsOne) {
  std::string bytes = slurp(xfer::testing::fixtures_dir() / "weights" / "handmade.safetensors");
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(read_checkpoint_bytes(bytes.substr(0, n), "cut.safetensors"), xfer::FormatError)
        << "cut at " << n;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (char mask : {'\x01', '\x5a', '\x80'}) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ mask);
      try {
        read_checkpoint_bytes(flipped, "flipped.safetensors");
      } catch (const xfer::FormatError&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << "flipped at " << i << ": " << e.what();
      }
    }
  }
}

}  // namespace
