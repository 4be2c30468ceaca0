#pragma once
// A plot's axes on a Canvas: data ranges, round tick values, the frame with its labels.

#include "detail/canvas.h"

#include <limits>
#include <string>
#include <vector>

namespace xfer::viz::detail {

/// A rectangle of the canvas, in pixels.
struct Area {
  /// Left edge.
  double left = 0;
  /// Top edge.
  double top = 0;
  /// Width.
  double width = 0;
  /// Height.
  double height = 0;
};

/// An interval of data values.
struct Range {
  /// Low end.
  double lo = 0;
  /// High end.
  double hi = 1;
};

/// The finite values' range, widened by `pad` of its span on each side (a zero span by a tenth
/// of the value's size), then kept within [floor, ceil] when the values are; [0, 1] for none.
Range padded_range(const std::vector<double>& values, double pad,
                   double floor = -std::numeric_limits<double>::infinity(),
                   double ceil = std::numeric_limits<double>::infinity());

/// Round values (1, 2 or 5 × 10^k apart) in `range`, about `count` of them.
std::vector<double> nice_ticks(Range range, int count);

/// How data values are spaced along the horizontal axis.
enum class Scale {
  /// Equal differences, equal distances.
  kLinear,
  /// Equal ratios, equal distances (base 10; the range must be positive).
  kLog,
};

/// Maps data to pixels in an area and draws the frame, grid, ticks and labels.
class Axes {
 public:
  /// Axes over `area` showing `x` horizontally (spaced by `x_scale`) and `y` vertically
  /// (upwards).
  Axes(Area area, Range x, Range y, Scale x_scale = Scale::kLinear)
      : area_(area), x_(x), y_(y), x_scale_(x_scale) {}
  /// Pixel column of data value `v`.
  double x(double v) const;
  /// Pixel row of data value `v`.
  double y(double v) const;
  /// The grid, the frame, tick labels, the title above, `x_label` below and `y_label` (rotated)
  /// on the left. `integer_x` keeps only whole-number ticks on x. A log axis ticks 1, 2 and 5
  /// times the powers of ten, or only the powers when it spans more than three.
  void draw_frame(Canvas& canvas, const std::string& title, const std::string& x_label,
                  const std::string& y_label, bool integer_x) const;

 private:
  Area area_;
  Range x_;
  Range y_;
  Scale x_scale_;
};

}  // namespace xfer::viz::detail
