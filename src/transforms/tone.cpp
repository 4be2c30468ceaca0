// Mirrors PIL 9.4's ImageOps (posterize, solarize, autocontrast, equalize, invert), which
// torchvision 0.14's functional_pil calls: each a lookup table per channel, built in Python.

#include "xfer/transforms/functional.h"

#include "xfer/core/error.h"

#include <algorithm>
#include <array>
#include <string>

namespace xfer::transforms {
namespace {

using Table = std::array<uint8_t, 256>;

// The image with channel c's bytes mapped through tables[c] (PIL's Image.point).
Image map_bytes(const Image& image, const std::vector<Table>& tables) {
  Image out = image;
  const auto ch = static_cast<size_t>(image.channels);
  for (size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = tables[i % ch][out.pixels[i]];
  return out;
}

// One table for every channel.
Image map_bytes(const Image& image, const Table& table) {
  return map_bytes(image, std::vector<Table>(static_cast<size_t>(image.channels), table));
}

// Each channel's histogram of byte values.
std::vector<std::array<int64_t, 256>> histograms(const Image& image) {
  const auto ch = static_cast<size_t>(image.channels);
  std::vector<std::array<int64_t, 256>> counts(ch);
  for (auto& h : counts) h.fill(0);
  for (size_t i = 0; i < image.pixels.size(); ++i) ++counts[i % ch][image.pixels[i]];
  return counts;
}

Table identity() {
  Table table;
  for (size_t v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v);
  return table;
}

}  // namespace

Image posterize(const Image& image, int64_t bits) {
  if (bits < 0 || bits > 8) {
    throw InvalidArgument("posterize: expected bits in [0, 8], got " + std::to_string(bits));
  }
  const auto mask = static_cast<uint8_t>(~((1 << (8 - bits)) - 1));
  Table table;
  for (size_t v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v & mask);
  return map_bytes(image, table);
}

Image solarize(const Image& image, double threshold) {
  Table table;
  for (size_t v = 0; v < 256; ++v) {
    table[v] = static_cast<double>(v) < threshold ? static_cast<uint8_t>(v)
                                                  : static_cast<uint8_t>(255 - v);
  }
  return map_bytes(image, table);
}

Image autocontrast(const Image& image) {
  std::vector<Table> tables;
  for (const auto& h : histograms(image)) {
    int lo = 0;
    while (lo < 255 && h[static_cast<size_t>(lo)] == 0) ++lo;
    int hi = 255;
    while (hi > 0 && h[static_cast<size_t>(hi)] == 0) --hi;
    if (hi <= lo) {
      tables.push_back(identity());
      continue;
    }
    const double scale = 255.0 / (hi - lo);
    const double offset = -lo * scale;
    Table table;
    for (size_t v = 0; v < 256; ++v) {
      // Python's int() truncates towards zero.
      const auto mapped = static_cast<int64_t>(static_cast<double>(v) * scale + offset);
      table[v] = static_cast<uint8_t>(std::clamp<int64_t>(mapped, 0, 255));
    }
    tables.push_back(table);
  }
  return map_bytes(image, tables);
}

Image equalize(const Image& image) {
  std::vector<Table> tables;
  for (const auto& h : histograms(image)) {
    int64_t total = 0;
    int64_t last = 0;
    int64_t used = 0;
    for (const int64_t count : h) {
      if (count == 0) continue;
      total += count;
      last = count;
      ++used;
    }
    const int64_t step = used <= 1 ? 0 : (total - last) / 255;
    if (step == 0) {
      tables.push_back(identity());
      continue;
    }
    Table table;
    int64_t n = step / 2;
    for (size_t v = 0; v < 256; ++v) {
      // Python appends n // step unclamped; PIL's point() clips the table to a byte.
      table[v] = static_cast<uint8_t>(std::min<int64_t>(n / step, 255));
      n += h[v];
    }
    tables.push_back(table);
  }
  return map_bytes(image, tables);
}

Image invert(const Image& image) {
  Table table;
  for (size_t v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(255 - v);
  return map_bytes(image, table);
}

}  // namespace xfer::transforms
