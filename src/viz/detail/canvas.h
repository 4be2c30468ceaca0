#pragma once
// A white RGB picture drawn with cairo (shapes, antialiased) and pango (text laid out with real
// fonts), encoded as PNG in memory. Private to viz: the public API speaks PNG bytes only.

#include "xfer/transforms/image.h"
#include "xfer/viz/colormap.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

struct _cairo;
struct _cairo_surface;

namespace xfer::viz::detail {

/// A colour with components in [0, 1].
struct Colour {
  double r = 0;
  double g = 0;
  double b = 0;
};

/// `0xRRGGBB` as a Colour.
Colour hex(unsigned value);

/// An 8-bit colour as a Colour.
Colour from_rgb(Rgb rgb);

/// Where text sits relative to its anchor point, horizontally.
enum class Align { kLeft, kCenter, kRight };

/// How one piece of text is set.
struct TextStyle {
  /// Font size in pixels.
  double size = 14;
  /// Colour of the glyphs.
  Colour colour{0.1, 0.1, 0.1};
  /// Horizontal placement against the anchor.
  Align align = Align::kLeft;
  /// Bold weight.
  bool bold = false;
  /// Widest the text may be, in pixels; longer text ends in an ellipsis. 0 = no limit.
  double max_width = 0;
  /// Monospaced digits and letters (DejaVu Sans Mono) instead of DejaVu Sans.
  bool mono = false;
};

/// A picture of a fixed size on a white background.
class Canvas {
 public:
  /// A `width` × `height` picture filled with `background`. Throws InvalidArgument for a size < 1
  /// or above 16384 pixels a side.
  Canvas(int width, int height, Colour background = {1, 1, 1});
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  /// Width in pixels.
  int width() const { return width_; }
  /// Height in pixels.
  int height() const { return height_; }

  /// Fills the rectangle with `colour`.
  void fill_rect(double x, double y, double w, double h, Colour colour);
  /// Outlines the rectangle with a line of `line_width` pixels.
  void stroke_rect(double x, double y, double w, double h, Colour colour, double line_width);
  /// A straight line; `dash` > 0 draws it dashed with dashes of that length.
  void line(double x0, double y0, double x1, double y1, Colour colour, double line_width,
            double dash = 0);
  /// A line through `points` in order.
  void polyline(const std::vector<std::pair<double, double>>& points, Colour colour,
                double line_width);
  /// A filled disc.
  void disc(double x, double y, double radius, Colour colour);

  /// Sets `text` with its top at `y` and placed against `x` as style.align says; `degrees`
  /// rotates it anticlockwise about the anchor. Invalid UTF-8 is shown as U+FFFD.
  void text(const std::string& text, double x, double y, const TextStyle& style,
            double degrees = 0);
  /// Width and height of `text` as text() would set it (before rotation).
  std::pair<double, double> measure(const std::string& text, const TextStyle& style);

  /// Copies an RGB or grey image 1:1, byte for byte, with its top-left corner at (x, y),
  /// clipped to the canvas.
  void blit(const transforms::Image& image, int x, int y);

  /// The picture as a PNG file (8-bit RGB). Throws Error when cairo fails to encode it.
  std::string png();

 private:
  int width_;
  int height_;
  _cairo_surface* surface_ = nullptr;
  _cairo* cr_ = nullptr;
};

/// The largest size a picture side may have, in pixels.
constexpr int kMaxSide = 16384;

}  // namespace xfer::viz::detail
