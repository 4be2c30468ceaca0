#pragma once
// Writes small PNGs of every colour type, bit depth and interlacing with libpng at test time, so
// that the decoder is tested (test_decode) and fuzzed (tests/fuzz seeds) on files whose every byte
// the test controls, including the kinds cv::imencode cannot write (palette, tRNS, Adam7).

#include <png.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xfer::testing {

/// What a PNG written by write_png holds.
struct PngKind {
  /// A name for test output and seed files.
  std::string name;
  /// PNG_COLOR_TYPE_*.
  int color = PNG_COLOR_TYPE_RGB;
  /// Bits per sample: 1, 2, 4, 8 or 16 as the colour type allows.
  int depth = 8;
  /// Adam7 when true.
  bool interlaced = false;
  /// A tRNS chunk (a palette's alphas, or a colour key).
  bool transparency = false;
};

/// A 13×11 PNG of `kind` whose samples are a closed-form function of (x, y, channel).
std::vector<uint8_t> write_png(const PngKind& kind);

}  // namespace xfer::testing
