#include "references.h"

#include "support/paths.h"

#include <cstring>
#include <fstream>
#include <sstream>

namespace xfer::testing {
namespace {

uint8_t hex_byte(const std::string& text, size_t at) {
  return static_cast<uint8_t>(std::stoul(text.substr(at, 2), nullptr, 16));
}

}  // namespace

std::map<std::string, Reference> load_references() {
  const auto file = fixtures_dir() / "transforms" / "references.txt";
  std::ifstream in(file);
  EXPECT_TRUE(in.good()) << "cannot open " << file;
  std::map<std::string, Reference> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("case ", 0) != 0) continue;
    Reference ref;
    std::string header;
    std::string data;
    std::getline(in, header);
    std::getline(in, data);
    std::istringstream fields(header);
    std::string kind;
    fields >> kind;
    ref.is_tensor = kind == "f32";
    int64_t dim = 0;
    while (fields >> dim) ref.shape.push_back(dim);
    if (ref.is_tensor) {
      for (size_t at = 0; at + 8 <= data.size(); at += 8) {
        const auto bits = static_cast<uint32_t>(std::stoul(data.substr(at, 8), nullptr, 16));
        float value = 0;
        std::memcpy(&value, &bits, sizeof value);
        ref.values.push_back(value);
      }
    } else {
      for (size_t at = 0; at + 2 <= data.size(); at += 2) ref.bytes.push_back(hex_byte(data, at));
    }
    cases[line.substr(5)] = std::move(ref);
  }
  return cases;
}

transforms::Image pattern_image() {
  auto image = transforms::Image::filled(23, 31, 3);
  for (int64_t y = 0; y < 23; ++y)
    for (int64_t x = 0; x < 31; ++x)
      for (int64_t c = 0; c < 3; ++c)
        image.pixels[static_cast<size_t>((y * 31 + x) * 3 + c)] =
            static_cast<uint8_t>((7 * y + 13 * x + 71 * c + (x * y) % 31) % 256);
  return image;
}

transforms::Image grey_image() {
  auto image = transforms::Image::filled(19, 26, 1);
  for (int64_t y = 0; y < 19; ++y)
    for (int64_t x = 0; x < 26; ++x)
      image.pixels[static_cast<size_t>(y * 26 + x)] =
          static_cast<uint8_t>((5 * y + 11 * x + (x * y) % 17) % 256);
  return image;
}

transforms::Image dim_image() {
  auto image = transforms::Image::filled(23, 31, 3);
  for (int64_t y = 0; y < 23; ++y)
    for (int64_t x = 0; x < 31; ++x)
      for (int64_t c = 0; c < 3; ++c)
        image.pixels[static_cast<size_t>((y * 31 + x) * 3 + c)] =
            static_cast<uint8_t>(60 + (7 * y + 13 * x + 71 * c + (x * y) % 31) % 120);
  return image;
}

transforms::Image ramp_image() {
  auto image = transforms::Image::filled(16, 16, 3);
  for (int64_t y = 0; y < 16; ++y)
    for (int64_t x = 0; x < 16; ++x)
      for (int64_t c = 0; c < 3; ++c)
        image.pixels[static_cast<size_t>((y * 16 + x) * 3 + c)] =
            static_cast<uint8_t>((16 * y + x + 85 * c) % 256);
  return image;
}

::testing::AssertionResult images_match(const transforms::Image& actual, const Reference& expected,
                                        int tolerance) {
  if (expected.is_tensor || expected.shape.size() != 3) {
    return ::testing::AssertionFailure() << "reference is not an HWC uint8 image";
  }
  const std::vector<int64_t> shape{actual.height, actual.width, actual.channels};
  if (shape != expected.shape) {
    return ::testing::AssertionFailure()
           << "shape mismatch: expected " << expected.shape[0] << "x" << expected.shape[1] << "x"
           << expected.shape[2] << " but got " << shape[0] << "x" << shape[1] << "x" << shape[2];
  }
  int worst = -1;
  size_t worst_at = 0;
  size_t over = 0;
  for (size_t i = 0; i < actual.pixels.size(); ++i) {
    const int diff = std::abs(int{actual.pixels[i]} - int{expected.bytes[i]});
    if (diff > tolerance) ++over;
    if (diff > worst) {
      worst = diff;
      worst_at = i;
    }
  }
  if (over == 0) return ::testing::AssertionSuccess() << "max abs diff " << worst;
  const auto c = static_cast<int64_t>(worst_at) % actual.channels;
  const auto x = static_cast<int64_t>(worst_at) / actual.channels % actual.width;
  const auto y = static_cast<int64_t>(worst_at) / actual.channels / actual.width;
  return ::testing::AssertionFailure()
         << over << " of " << actual.pixels.size() << " values off by more than " << tolerance
         << "; worst at y:x:c " << y << ":" << x << ":" << c << " expect "
         << int{expected.bytes[worst_at]} << " but got " << int{actual.pixels[worst_at]};
}

::testing::AssertionResult tensors_match(const std::vector<float>& actual, int64_t channels,
                                         int64_t height, int64_t width, const Reference& expected) {
  const std::vector<int64_t> shape{channels, height, width};
  if (!expected.is_tensor || shape != expected.shape) {
    return ::testing::AssertionFailure() << "shape mismatch with the float32 CHW reference";
  }
  size_t mismatches = 0;
  size_t first = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::memcmp(&actual[i], &expected.values[i], sizeof(float)) != 0 && mismatches++ == 0) {
      first = i;
    }
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  const auto plane = static_cast<size_t>(height * width);
  return ::testing::AssertionFailure()
         << mismatches << " of " << actual.size() << " values differ; first at c:h:w "
         << first / plane << ":" << first % plane / static_cast<size_t>(width) << ":"
         << first % static_cast<size_t>(width) << " expect " << expected.values[first]
         << " but got " << actual[first];
}

}  // namespace xfer::testing
