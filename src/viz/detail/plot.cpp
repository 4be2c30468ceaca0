#include "detail/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace xfer::viz::detail {
namespace {

// The text of tick `v` when ticks are `step` apart: as many decimals as the step needs.
std::string tick_text(double v, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, std::abs(v) < step * 1e-6 ? 0.0 : v);
  return buffer;
}

// 1, 2 and 5 times the powers of ten within a positive `range`; only the powers when it spans
// more than 3 of them (the labels would overlap).
std::vector<double> log_ticks(Range range) {
  std::vector<double> ticks;
  const std::vector<double> multiples =
      std::log10(range.hi / range.lo) > 3 ? std::vector<double>{1} : std::vector<double>{1, 2, 5};
  for (double power = std::pow(10.0, std::floor(std::log10(range.lo))); power <= range.hi;
       power *= 10) {
    for (const double m : multiples) {
      const double t = m * power;
      if (t >= range.lo * (1 - 1e-9) && t <= range.hi * (1 + 1e-9)) ticks.push_back(t);
    }
  }
  return ticks;
}

// A tick of a log axis: "20", "0.001", "1e-05".
std::string log_tick_text(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

}  // namespace

Range padded_range(const std::vector<double>& values, double pad, double floor, double ceil) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo > hi) return {0, 1};
  const bool within_floor = lo >= floor;
  const bool within_ceil = hi <= ceil;
  double span = hi - lo;
  if (span <= 0) {
    span = std::max(std::abs(hi), 1.0) * 0.1;
    lo -= span / 2;
    hi += span / 2;
  }
  lo -= pad * span;
  hi += pad * span;
  if (within_floor) lo = std::max(lo, floor);
  if (within_ceil) hi = std::min(hi, ceil);
  return {lo, hi};
}

std::vector<double> nice_ticks(Range range, int count) {
  const double raw = (range.hi - range.lo) / std::max(1, count);
  if (!(raw > 0) || !std::isfinite(raw)) return {range.lo};
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  const double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
  std::vector<double> ticks;
  for (double k = std::ceil(range.lo / step - 1e-9); k * step <= range.hi + step * 1e-9; k += 1) {
    ticks.push_back(k * step);
  }
  return ticks;
}

double Axes::x(double v) const {
  if (x_scale_ == Scale::kLog) {
    return area_.left +
           std::log10(v / x_.lo) / std::log10(x_.hi / x_.lo) * area_.width;
  }
  return area_.left + (v - x_.lo) / (x_.hi - x_.lo) * area_.width;
}

double Axes::y(double v) const {
  return area_.top + area_.height - (v - y_.lo) / (y_.hi - y_.lo) * area_.height;
}

void Axes::draw_frame(Canvas& canvas, const std::string& title, const std::string& x_label,
                      const std::string& y_label, bool integer_x) const {
  const Colour grid = hex(0xe6e6e6);
  const Colour frame = hex(0x4d4d4d);
  TextStyle tick;
  tick.size = 12;
  tick.colour = hex(0x333333);
  const double bottom = area_.top + area_.height;

  auto x_ticks = x_scale_ == Scale::kLog ? log_ticks(x_) : nice_ticks(x_, 8);
  if (integer_x) {
    std::vector<double> whole;
    for (const double t : x_ticks) {
      if (std::abs(t - std::round(t)) < 1e-9) whole.push_back(std::round(t));
    }
    if (whole.empty()) whole.push_back(std::round((x_.lo + x_.hi) / 2));
    x_ticks = whole;
  }
  const double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
  tick.align = Align::kCenter;
  for (const double t : x_ticks) {
    const double px = x(t);
    canvas.line(px, area_.top, px, bottom, grid, 1);
    canvas.line(px, bottom, px, bottom + 5, frame, 1);
    canvas.text(x_scale_ == Scale::kLog ? log_tick_text(t) : tick_text(t, integer_x ? 1 : x_step),
                px, bottom + 7, tick);
  }
  const auto y_ticks = nice_ticks(y_, 6);
  const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
  tick.align = Align::kRight;
  for (const double t : y_ticks) {
    const double py = y(t);
    canvas.line(area_.left, py, area_.left + area_.width, py, grid, 1);
    canvas.line(area_.left - 5, py, area_.left, py, frame, 1);
    canvas.text(tick_text(t, y_step), area_.left - 8, py - 8, tick);
  }
  canvas.stroke_rect(area_.left, area_.top, area_.width, area_.height, frame, 1);

  TextStyle heading;
  heading.size = 16;
  heading.bold = true;
  heading.align = Align::kCenter;
  canvas.text(title, area_.left + area_.width / 2, area_.top - 26, heading);
  TextStyle label;
  label.size = 14;
  label.align = Align::kCenter;
  canvas.text(x_label, area_.left + area_.width / 2, bottom + 26, label);
  canvas.text(y_label, area_.left - 64, area_.top + area_.height / 2, label, 90);
}

}  // namespace xfer::viz::detail
