#include "pictures.h"

#include "xfer/core/files.h"

#include <cmath>
#include <set>
#include <vector>

namespace xfer::testing {

transforms::Image decode_png(const std::string& bytes) {
  EXPECT_EQ(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n"), 0) << "not a PNG signature";
  return transforms::decode_image(std::vector<uint8_t>(bytes.begin(), bytes.end()), "picture");
}

transforms::Image decode_png_file(const std::filesystem::path& file) {
  return decode_png(read_file(file));
}

viz::Rgb pixel(const transforms::Image& image, int64_t x, int64_t y) {
  return {image.at(y, x, 0), image.at(y, x, 1), image.at(y, x, 2)};
}

int64_t count_colour(const transforms::Image& image, viz::Rgb rgb) {
  int64_t count = 0;
  for (int64_t y = 0; y < image.height; ++y) {
    for (int64_t x = 0; x < image.width; ++x) count += pixel(image, x, y) == rgb;
  }
  return count;
}

::testing::AssertionResult not_blank(const transforms::Image& image, int min_colours,
                                     double min_fraction) {
  std::set<uint32_t> colours;
  int64_t painted = 0;
  for (int64_t y = 0; y < image.height; ++y) {
    for (int64_t x = 0; x < image.width; ++x) {
      const auto p = pixel(image, x, y);
      colours.insert(static_cast<uint32_t>(p.r) << 16 | static_cast<uint32_t>(p.g) << 8 | p.b);
      painted += !(p.r == 255 && p.g == 255 && p.b == 255);
    }
  }
  const double fraction =
      static_cast<double>(painted) / static_cast<double>(image.height * image.width);
  if (static_cast<int>(colours.size()) >= min_colours && fraction >= min_fraction) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "picture " << image.width << "x" << image.height << " looks blank: " << colours.size()
         << " colours (expected at least " << min_colours << "), " << fraction * 100
         << "% painted (expected at least " << min_fraction * 100 << "%)";
}

::testing::AssertionResult has_antialiased_text(const transforms::Image& image, int64_t top,
                                                int64_t height) {
  int64_t dark = 0;
  int64_t edge = 0;
  for (int64_t y = top; y < std::min(image.height, top + height); ++y) {
    for (int64_t x = 0; x < image.width; ++x) {
      const auto p = pixel(image, x, y);
      const int hi = std::max({p.r, p.g, p.b});
      const int lo = std::min({p.r, p.g, p.b});
      if (hi < 80) ++dark;
      if (lo >= 80 && hi <= 200 && hi - lo < 16) ++edge;
    }
  }
  if (dark >= 20 && edge >= 20) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "rows " << top << ".." << top + height << " hold no antialiased text: " << dark
         << " dark pixels, " << edge << " grey edge pixels";
}

transforms::Image test_photo(int64_t height, int64_t width) {
  auto image = transforms::Image::filled(height, width, 3);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const double dy = static_cast<double>(y) - height / 2.0;
      const double dx = static_cast<double>(x) - width / 2.0;
      const bool disc = dx * dx + dy * dy < (height / 4.0) * (height / 4.0);
      uint8_t* p = &image.pixels[static_cast<size_t>((y * width + x) * 3)];
      p[0] = static_cast<uint8_t>(disc ? 230 : 255 * x / width);
      p[1] = static_cast<uint8_t>(disc ? 40 : 255 * y / height);
      p[2] = static_cast<uint8_t>((x / 8) % 2 ? 200 : 30);
    }
  }
  return image;
}

::testing::AssertionResult tile_shows(const transforms::Image& picture, const viz::Rect& tile,
                                      int64_t scale, const torch::Tensor& map, int64_t channel) {
  const auto values = map[channel].to(torch::kDouble).contiguous();
  const int64_t h = values.size(0);
  const int64_t w = values.size(1);
  if (tile.width != w * scale || tile.height != h * scale) {
    return ::testing::AssertionFailure() << "tile is " << tile.width << "x" << tile.height
                                         << ", expected " << w * scale << "x" << h * scale;
  }
  const double lo = values.min().item<double>();
  const double hi = values.max().item<double>();
  // The picture may come from another process (the CLI), whose float32 sums run in another order
  // or on other kernels: its values differ from `map` by ~1e-6 of their magnitude. A pixel one
  // viridis step off is accepted only where the value lies that close to a step's edge, 1e-4 of
  // the magnitude (100x the drift) measured in steps; anywhere else it is a wrong picture.
  const double magnitude = std::max(std::abs(lo), std::abs(hi));
  const double edge_slack = hi > lo ? 1e-4 * magnitude / (hi - lo) * 256 : 0.0;
  const auto& table = viz::viridis();
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const double v = values[y][x].item<double>();
      const double t = hi > lo ? (v - lo) / (hi - lo) : 0.0;
      const int index = static_cast<int>(std::min(255.0, std::floor(t * 256)));
      const bool near_edge = std::abs(t * 256 - std::round(t * 256)) <= edge_slack;
      for (int64_t dy = 0; dy < scale; ++dy) {
        for (int64_t dx = 0; dx < scale; ++dx) {
          const auto got = pixel(picture, tile.x + x * scale + dx, tile.y + y * scale + dy);
          if (got == table[static_cast<size_t>(index)]) continue;
          const bool next = (index > 0 && got == table[static_cast<size_t>(index - 1)]) ||
                            (index < 255 && got == table[static_cast<size_t>(index + 1)]);
          if (next && near_edge) continue;
          return ::testing::AssertionFailure()
                 << "channel " << channel << " value at (" << y << ", " << x << ") = " << v
                 << " (scaled " << t << ", viridis " << index << " = "
                 << int(table[static_cast<size_t>(index)].r) << ","
                 << int(table[static_cast<size_t>(index)].g) << ","
                 << int(table[static_cast<size_t>(index)].b) << ") but the PNG has " << int(got.r)
                 << "," << int(got.g) << "," << int(got.b) << " at pixel ("
                 << tile.x + x * scale + dx << ", " << tile.y + y * scale + dy << ")"
                 << (next ? ", one step off though the value is not near a step's edge" : "");
        }
      }
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult picture_shows(const std::filesystem::path& file,
                                         const torch::Tensor& map,
                                         const std::vector<int64_t>& channels) {
  const auto picture = decode_png_file(file);
  const auto layout =
      viz::feature_map_layout(map.size(1), map.size(2), static_cast<int64_t>(channels.size()));
  if (picture.width != layout.width || picture.height != layout.height) {
    return ::testing::AssertionFailure() << file << " is " << picture.width << "x" << picture.height
                                         << ", expected " << layout.width << "x" << layout.height;
  }
  for (size_t k = 0; k < channels.size(); ++k) {
    auto result = tile_shows(picture, layout.tiles[k], layout.scale, map, channels[k]);
    if (!result) return result << " (" << file << ", tile " << k << ")";
  }
  return not_blank(picture);
}

}  // namespace xfer::testing
