// Mirrors torchvision 0.14's affine and rotate on PIL images (functional.py,
// _get_inverse_affine_matrix; PIL 9.4's Image.rotate and Image.transform) and the Pillow C code
// they end in: libImaging/Geometry.c, nearest-neighbour sampling, fill 0.

#include "xfer/transforms/functional.h"

#include "xfer/core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace xfer::transforms {
namespace {

// An inverse affine map, output pixel (x, y) to input position (a0 x + a1 y + a2,
// a3 x + a4 y + a5), as Image.transform(AFFINE) takes it.
using Matrix = std::array<double, 6>;

constexpr double kPi = 3.14159265358979323846;

// Python's math.radians: times the rounded constant pi / 180.
double radians(double degrees) { return degrees * (kPi / 180.0); }

// Geometry.c COORD: -1 for anything left of the image, else truncated.
int coord(double v) { return v < 0.0 ? -1 : static_cast<int>(v); }

// Geometry.c ImagingScaleAffine: no rotation or shear (a1 = a3 = 0).
Image scale_affine(const Image& image, const Matrix& a) {
  Image out = Image::filled(image.height, image.width, image.channels, 0);
  const int64_t ch = image.channels;
  std::vector<int> columns(static_cast<size_t>(image.width), -1);
  double xo = a[2] + a[0] * 0.5;
  for (int64_t x = 0; x < image.width; ++x, xo += a[0]) {
    const int xin = coord(xo);
    if (xin >= 0 && xin < image.width) columns[static_cast<size_t>(x)] = xin;
  }
  double yo = a[5] + a[4] * 0.5;
  for (int64_t y = 0; y < image.height; ++y, yo += a[4]) {
    const int yin = coord(yo);
    if (yin < 0 || yin >= image.height) continue;
    for (int64_t x = 0; x < image.width; ++x) {
      const int xin = columns[static_cast<size_t>(x)];
      if (xin < 0) continue;
      std::copy_n(&image.pixels[static_cast<size_t>((yin * image.width + xin) * ch)], ch,
                  &out.pixels[static_cast<size_t>((y * image.width + x) * ch)]);
    }
  }
  return out;
}

// Geometry.c affine_fixed: 16.16 fixed point, sampled at each pixel's centre.
Image fixed_affine(const Image& image, const Matrix& a) {
  Image out = Image::filled(image.height, image.width, image.channels, 0);
  const int64_t ch = image.channels;
  const auto fix = [](double v) { return static_cast<int>(std::floor(v * 65536.0 + 0.5)); };
  const int a0 = fix(a[0]);
  const int a1 = fix(a[1]);
  const int a3 = fix(a[3]);
  const int a4 = fix(a[4]);
  int a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5);
  int a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
  for (int64_t y = 0; y < image.height; ++y, a2 += a1, a5 += a4) {
    int xx = a2;
    int yy = a5;
    for (int64_t x = 0; x < image.width; ++x, xx += a0, yy += a3) {
      const int xin = xx >> 16;
      const int yin = yy >> 16;
      if (xin < 0 || xin >= image.width || yin < 0 || yin >= image.height) continue;
      std::copy_n(&image.pixels[static_cast<size_t>((yin * image.width + xin) * ch)], ch,
                  &out.pixels[static_cast<size_t>((y * image.width + x) * ch)]);
    }
  }
  return out;
}

// Geometry.c ImagingTransformAffine, nearest: the float engine is for corners beyond
// ±32768, which an image of at most 2^20 pixels a side with these maps never reaches.
Image transform_affine(const Image& image, const Matrix& a) {
  if (a[1] == 0 && a[3] == 0) return scale_affine(image, a);
  const auto fits = [&a](double x, double y) {
    return std::fabs(x * a[0] + y * a[1] + a[2]) < 32768.0 &&
           std::fabs(x * a[3] + y * a[4] + a[5]) < 32768.0;
  };
  const auto w = static_cast<double>(image.width);
  const auto h = static_cast<double>(image.height);
  if (!(fits(0, 0) && fits(w, h) && fits(0, h) && fits(w, 0))) {
    throw InvalidArgument("affine: the map sends the image's corners beyond ±32768 pixels");
  }
  return fixed_affine(image, a);
}

// Python's round(v, 15): v to the nearest multiple of 1e-15 as the exact decimal expansion
// rounds, half to even (which printf's %.15f does).
double round15(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.15f", v);
  return std::strtod(text, nullptr);
}

// Python's `v % 360.0`: the sign of the divisor.
double python_mod360(double v) {
  double mod = std::fmod(v, 360.0);
  if (mod != 0) {
    if (mod < 0) mod += 360.0;
  } else {
    mod = std::copysign(0.0, 360.0);
  }
  return mod;
}

// PIL's Image.transpose ROTATE_180.
Image half_turn(const Image& image) {
  Image out = image;
  const auto ch = static_cast<size_t>(image.channels);
  const size_t pixels = out.pixels.size() / ch;
  for (size_t i = 0; i < pixels; ++i) {
    std::copy_n(&image.pixels[(pixels - 1 - i) * ch], ch, &out.pixels[i * ch]);
  }
  return out;
}

// PIL's Image.transpose ROTATE_90 (counter-clockwise) or ROTATE_270 of a square image.
Image quarter_turn(const Image& image, bool counter_clockwise) {
  Image out = image;
  const int64_t n = image.width;
  const int64_t ch = image.channels;
  for (int64_t y = 0; y < n; ++y) {
    for (int64_t x = 0; x < n; ++x) {
      const int64_t sy = counter_clockwise ? x : n - 1 - x;
      const int64_t sx = counter_clockwise ? n - 1 - y : y;
      std::copy_n(&image.pixels[static_cast<size_t>((sy * n + sx) * ch)], ch,
                  &out.pixels[static_cast<size_t>((y * n + x) * ch)]);
    }
  }
  return out;
}

}  // namespace

Image affine(const Image& image, const AffineParams& p) {
  if (image.empty()) throw InvalidArgument("affine: expected a non-empty image, got 0x0");
  if (!(p.scale > 0)) {
    throw InvalidArgument("affine: expected a scale > 0, got " + std::to_string(p.scale));
  }
  const double cx = p.center ? (*p.center)[0] : static_cast<double>(image.width) * 0.5;
  const double cy = p.center ? (*p.center)[1] : static_cast<double>(image.height) * 0.5;
  const double rot = radians(p.angle);
  const double sx = radians(p.shear[0]);
  const double sy = radians(p.shear[1]);
  const double tx = p.translate[0];
  const double ty = p.translate[1];
  // _get_inverse_affine_matrix, term for term.
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  Matrix m{d, -b, 0.0, -c, a, 0.0};
  for (auto& v : m) v /= p.scale;
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return transform_affine(image, m);
}

Image rotate(const Image& image, double angle) {
  if (image.empty()) throw InvalidArgument("rotate: expected a non-empty image, got 0x0");
  angle = python_mod360(angle);
  if (angle == 0) return image;
  if (angle == 180) return half_turn(image);
  if ((angle == 90 || angle == 270) && image.width == image.height) {
    return quarter_turn(image, angle == 90);
  }
  const double r = -radians(angle);
  Matrix m{round15(std::cos(r)),  round15(std::sin(r)), 0.0,
           round15(-std::sin(r)), round15(std::cos(r)), 0.0};
  const double cx = static_cast<double>(image.width) / 2.0;
  const double cy = static_cast<double>(image.height) / 2.0;
  m[2] = m[0] * -cx + m[1] * -cy + m[2];
  m[5] = m[3] * -cx + m[4] * -cy + m[5];
  m[2] += cx;
  m[5] += cy;
  return transform_affine(image, m);
}

}  // namespace xfer::transforms
