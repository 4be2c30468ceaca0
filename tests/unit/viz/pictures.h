#pragma once
// Reading the PNGs viz writes back into pixels, for the tests that check what they show.

#include "xfer/transforms/image.h"
#include "xfer/viz/colormap.h"
#include "xfer/viz/feature_maps.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace xfer::testing {

/// Decodes PNG bytes (through the library's decoder) into RGB; fails the test on bad bytes.
transforms::Image decode_png(const std::string& bytes);

/// Decodes a PNG file into RGB.
transforms::Image decode_png_file(const std::filesystem::path& file);

/// The colour at row `y`, column `x`.
viz::Rgb pixel(const transforms::Image& image, int64_t x, int64_t y);

/// Pixels exactly of colour `rgb`.
int64_t count_colour(const transforms::Image& image, viz::Rgb rgb);

/// Success when the picture is not blank: at least `min_colours` distinct colours and at least
/// `min_fraction` of its pixels other than white.
::testing::AssertionResult not_blank(const transforms::Image& image, int min_colours = 16,
                                     double min_fraction = 0.02);

/// Success when the band of rows [top, top + height) holds antialiased text: dark pixels
/// (all channels below 80) and grey edge pixels (between 80 and 200) next to white.
::testing::AssertionResult has_antialiased_text(const transforms::Image& image, int64_t top,
                                                int64_t height);

/// A picture with something to see: a gradient, a disc, stripes; `height` x `width` RGB.
transforms::Image test_photo(int64_t height, int64_t width);

/// Success when `tile` of `picture` shows `channel` of `map` [C, H, W]: every pixel of each
/// scale x scale block is the viridis colour of that value scaled to the channel's min..max
/// (computed here in double; a colour one index off is tolerated for under 1% of the pixels, at
/// rounding boundaries). The message names the first pixel that differs, its value and colours.
::testing::AssertionResult tile_shows(const transforms::Image& picture, const viz::Rect& tile,
                                      int64_t scale, const torch::Tensor& map, int64_t channel);

/// Success when the feature-map PNG `file` has the layout of `channels.size()` tiles of `map`
/// [C, H, W] (default options) and tile k shows channel `channels[k]` (tile_shows), not blank.
::testing::AssertionResult picture_shows(const std::filesystem::path& file,
                                         const torch::Tensor& map,
                                         const std::vector<int64_t>& channels);

}  // namespace xfer::testing
