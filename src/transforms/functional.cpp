// Mirrors torchvision 0.14 transforms/functional_pil.py and the Pillow 9.4 C code it calls:
// libImaging/Resample.c (resize), Blend.c (ImageEnhance), Filter.c (ImageFilter.SMOOTH),
// Convert.c (RGB to L, RGB to HSV and back).

#include "xfer/transforms/functional.h"

#include "xfer/core/error.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

namespace xfer::transforms {
namespace {

std::string size_text(int64_t height, int64_t width) {
  return std::to_string(height) + "x" + std::to_string(width);
}

void check_image(const Image& image, const char* op) {
  if (image.empty())
    throw InvalidArgument(std::string(op) + ": expected a non-empty image, got 0x0");
}

void check_factor(double factor, const char* op) {
  if (!(factor >= 0)) {
    throw InvalidArgument(std::string(op) + ": expected a factor >= 0, got " +
                          std::to_string(factor));
  }
}

// Pillow's fixed point: 8 bits of result, 2 of headroom.
constexpr int kPrecisionBits = 32 - 8 - 2;

uint8_t clip8(int value) {
  const int shifted = value >> kPrecisionBits;
  return static_cast<uint8_t>(std::clamp(shifted, 0, 255));
}

// The filter window of each output pixel along one axis: first input pixel, pixel count, and
// fixed-point weights (Resample.c precompute_coeffs + normalize_coeffs_8bpc).
struct Coefficients {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;  // out_size × ksize
};

double bilinear(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Resample.c's bicubic_filter: Keys' cubic convolution with a = -0.5.
double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

Coefficients precompute(int in_size, float in0, float in1, int out_size,
                        Interpolation interpolation) {
  const bool cubic = interpolation == Interpolation::kBicubic;
  const auto filter = cubic ? bicubic : bilinear;
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = (cubic ? 2.0 : 1.0) * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<size_t>(out_size));
  c.count.resize(static_cast<size_t>(out_size));
  c.weights.assign(static_cast<size_t>(out_size) * static_cast<size_t>(c.ksize), 0);
  std::vector<double> k(static_cast<size_t>(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter((x + xmin - center + 0.5) * ss);
      k[static_cast<size_t>(x)] = w;
      ww += w;
    }
    int32_t* out = &c.weights[static_cast<size_t>(xx) * static_cast<size_t>(c.ksize)];
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[static_cast<size_t>(x)] / ww : k[static_cast<size_t>(x)];
      out[x] = static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                          : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[static_cast<size_t>(xx)] = xmin;
    c.count[static_cast<size_t>(xx)] = xmax;
  }
  return c;
}

// Rows [row0, row0 + rows) of `in`, resampled horizontally; only output columns
// [col0, col0 + cols) of the full resampled row are computed.
Image resample_horizontal(const Image& in, const Coefficients& c, int row0, int rows, int col0,
                          int cols) {
  Image out;
  out.height = rows;
  out.width = cols;
  out.channels = in.channels;
  out.pixels.resize(static_cast<size_t>(rows * cols * in.channels));
  const int ch = static_cast<int>(in.channels);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = &in.pixels[static_cast<size_t>((row0 + y) * in.width * ch)];
    uint8_t* dst = &out.pixels[static_cast<size_t>(y * cols * ch)];
    for (int i = 0; i < cols; ++i) {
      const auto xx = static_cast<size_t>(col0 + i);
      const int32_t* k = &c.weights[xx * static_cast<size_t>(c.ksize)];
      const uint8_t* window = src + c.first[xx] * ch;
      const int n = c.count[xx];
      if (ch == 3) {
        // The three sums of a pixel together, as Pillow's ImagingResampleHorizontal_8bpc does:
        // one pass over the window instead of three (integer sums, so the same result).
        int s0 = 1 << (kPrecisionBits - 1);
        int s1 = s0;
        int s2 = s0;
        for (int x = 0; x < n; ++x, window += 3) {
          const int w = k[x];
          s0 += window[0] * w;
          s1 += window[1] * w;
          s2 += window[2] * w;
        }
        dst[i * 3] = clip8(s0);
        dst[i * 3 + 1] = clip8(s1);
        dst[i * 3 + 2] = clip8(s2);
      } else {
        int ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < n; ++x) ss += window[x] * k[x];
        dst[i] = clip8(ss);
      }
    }
  }
  return out;
}

// Output rows [row0, row0 + rows) of `in` resampled vertically; `in` starts at input row
// `row_offset`.
Image resample_vertical(const Image& in, const Coefficients& c, int row_offset, int row0,
                        int rows) {
  Image out;
  out.height = rows;
  out.width = in.width;
  out.channels = in.channels;
  const int row_len = static_cast<int>(in.width * in.channels);
  out.pixels.resize(static_cast<size_t>(rows * row_len));
  std::vector<int> sums(static_cast<size_t>(row_len));
  for (int j = 0; j < rows; ++j) {
    const auto yy = static_cast<size_t>(row0 + j);
    const int32_t* k = &c.weights[yy * static_cast<size_t>(c.ksize)];
    const int ymin = c.first[yy] - row_offset;
    const int n = c.count[yy];
    std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < n; ++y) {
      const uint8_t* src = &in.pixels[static_cast<size_t>((ymin + y) * row_len)];
      const int w = k[y];
      for (int i = 0; i < row_len; ++i) sums[static_cast<size_t>(i)] += src[i] * w;
    }
    uint8_t* dst = &out.pixels[static_cast<size_t>(j * row_len)];
    for (int i = 0; i < row_len; ++i) dst[i] = clip8(sums[static_cast<size_t>(i)]);
  }
  return out;
}

// Image.blend(degenerate, image, factor) of Blend.c: `alpha` is a C float there.
uint8_t blend(int degenerate, int value, float alpha) {
  const float mixed =
      static_cast<float>(degenerate) + alpha * static_cast<float>(value - degenerate);
  if (alpha >= 0.0f && alpha <= 1.0f) return static_cast<uint8_t>(mixed);
  if (mixed <= 0.0f) return 0;
  if (mixed >= 255.0f) return 255;
  return static_cast<uint8_t>(mixed);
}

uint8_t luma(const uint8_t* rgb) {
  return static_cast<uint8_t>((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16);
}

}  // namespace

Size resized_size(Size input, int64_t shorter) {
  if (shorter < 1) {
    throw InvalidArgument("resize: expected a shorter side >= 1, got " + std::to_string(shorter));
  }
  if (input.height < 1 || input.width < 1) {
    throw InvalidArgument("resize: expected a non-empty image, got " +
                          size_text(input.height, input.width));
  }
  const bool portrait = input.width <= input.height;
  const int64_t short_side = portrait ? input.width : input.height;
  const int64_t long_side = portrait ? input.height : input.width;
  // Python's int(shorter * long / short): a true division in double, truncated.
  const auto new_long = static_cast<int64_t>(static_cast<double>(shorter * long_side) /
                                             static_cast<double>(short_side));
  return portrait ? Size{new_long, shorter} : Size{shorter, new_long};
}

Image resize(const Image& image, Size size, Interpolation interpolation) {
  return resize_region(image, size, {0, 0, size.height, size.width}, interpolation);
}

Image resize_region(const Image& image, Size size, const Box& region,
                    Interpolation interpolation) {
  check_image(image, "resize");
  if (size.height < 1 || size.width < 1) {
    throw InvalidArgument("resize: expected an output size of at least 1x1, got " +
                          size_text(size.height, size.width));
  }
  if (region.height < 1 || region.width < 1 || region.top < 0 || region.left < 0 ||
      region.top + region.height > size.height || region.left + region.width > size.width) {
    throw InvalidArgument("resize: expected a region inside the " +
                          size_text(size.height, size.width) + " output, got " +
                          size_text(region.height, region.width) + " at (" +
                          std::to_string(region.top) + ", " + std::to_string(region.left) + ")");
  }
  const bool whole = region.height == size.height && region.width == size.width;
  if (size.height == image.height && size.width == image.width) {
    return whole ? image : crop(image, region);
  }
  const int in_w = static_cast<int>(image.width);
  const int in_h = static_cast<int>(image.height);
  const int out_w = static_cast<int>(size.width);
  const int out_h = static_cast<int>(size.height);
  const int top = static_cast<int>(region.top);
  const int rows = static_cast<int>(region.height);
  const int left = static_cast<int>(region.left);
  const int cols = static_cast<int>(region.width);
  // Pillow skips the pass of a side that does not change.
  const Coefficients vertical =
      precompute(in_h, 0.0f, static_cast<float>(in_h), out_h, interpolation);
  if (out_w == in_w) {
    const Image columns = cols == in_w ? image : crop(image, {0, left, in_h, cols});
    return resample_vertical(columns, vertical, 0, top, rows);
  }
  const Coefficients horizontal =
      precompute(in_w, 0.0f, static_cast<float>(in_w), out_w, interpolation);
  if (out_h == in_h) return resample_horizontal(image, horizontal, top, rows, left, cols);
  // Only the input rows the region's output rows read.
  const auto first = static_cast<size_t>(top);
  const auto last = static_cast<size_t>(top + rows - 1);
  const int row_first = vertical.first[first];
  const int row_last = vertical.first[last] + vertical.count[last];
  const Image resampled =
      resample_horizontal(image, horizontal, row_first, row_last - row_first, left, cols);
  return resample_vertical(resampled, vertical, row_first, top, rows);
}

Box centered_box(Size image, Size size) {
  // int(round(d / 2.0)) with Python's round half to even.
  const auto centre = [](int64_t d) {
    const int64_t half = d / 2;
    return (d % 2 == 1 && half % 2 == 1) ? half + 1 : half;
  };
  return {centre(image.height - size.height), centre(image.width - size.width), size.height,
          size.width};
}

Image resize(const Image& image, int64_t shorter, Interpolation interpolation) {
  return resize(image, resized_size({image.height, image.width}, shorter), interpolation);
}

Image crop(const Image& image, const Box& box) {
  if (box.height < 1 || box.width < 1) {
    throw InvalidArgument("crop: expected a box of at least 1x1, got " +
                          size_text(box.height, box.width));
  }
  Image out = Image::filled(box.height, box.width, image.channels, 0);
  const int64_t ch = image.channels;
  const int64_t x0 = std::max<int64_t>(box.left, 0);
  const int64_t x1 = std::min(box.left + box.width, image.width);
  if (x1 <= x0) return out;
  for (int64_t y = 0; y < box.height; ++y) {
    const int64_t sy = box.top + y;
    if (sy < 0 || sy >= image.height) continue;
    std::copy_n(&image.pixels[static_cast<size_t>((sy * image.width + x0) * ch)], (x1 - x0) * ch,
                &out.pixels[static_cast<size_t>((y * box.width + (x0 - box.left)) * ch)]);
  }
  return out;
}

Image center_crop(const Image& image, Size size) {
  if (size.height < 1 || size.width < 1) {
    throw InvalidArgument("center_crop: expected a size of at least 1x1, got " +
                          size_text(size.height, size.width));
  }
  const Image* source = &image;
  Image padded;
  if (size.width > image.width || size.height > image.height) {
    const int64_t dw = std::max<int64_t>(size.width - image.width, 0);
    const int64_t dh = std::max<int64_t>(size.height - image.height, 0);
    padded = pad(image, dw / 2, dh / 2, (dw + 1) / 2, (dh + 1) / 2, 0);
    if (padded.height == size.height && padded.width == size.width) return padded;
    source = &padded;
  }
  return crop(*source, centered_box({source->height, source->width}, size));
}

Image pad(const Image& image, int64_t left, int64_t top, int64_t right, int64_t bottom,
          uint8_t fill) {
  if (left < 0 || top < 0 || right < 0 || bottom < 0) {
    throw InvalidArgument("pad: expected borders >= 0, got left " + std::to_string(left) +
                          ", top " + std::to_string(top) + ", right " + std::to_string(right) +
                          ", bottom " + std::to_string(bottom));
  }
  Image out =
      Image::filled(image.height + top + bottom, image.width + left + right, image.channels, fill);
  const int64_t ch = image.channels;
  for (int64_t y = 0; y < image.height; ++y) {
    std::copy_n(&image.pixels[static_cast<size_t>(y * image.width * ch)], image.width * ch,
                &out.pixels[static_cast<size_t>(((y + top) * out.width + left) * ch)]);
  }
  return out;
}

Image hflip(const Image& image) {
  Image out = image;
  const int64_t ch = image.channels;
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t* src = &image.pixels[static_cast<size_t>(y * image.width * ch)];
    uint8_t* dst = &out.pixels[static_cast<size_t>(y * image.width * ch)];
    for (int64_t x = 0; x < image.width; ++x) {
      std::copy_n(src + (image.width - 1 - x) * ch, ch, dst + x * ch);
    }
  }
  return out;
}

Image adjust_brightness(const Image& image, double factor) {
  check_factor(factor, "adjust_brightness");
  const auto alpha = static_cast<float>(factor);
  Image out = image;
  for (auto& p : out.pixels) p = blend(0, p, alpha);
  return out;
}

Image adjust_contrast(const Image& image, double factor) {
  check_factor(factor, "adjust_contrast");
  const Image grey = to_grayscale(image);
  double sum = 0;
  for (const auto p : grey.pixels) sum += p;
  const int mean = grey.pixels.empty()
                       ? 0
                       : static_cast<int>(sum / static_cast<double>(grey.pixels.size()) + 0.5);
  const auto alpha = static_cast<float>(factor);
  Image out = image;
  for (auto& p : out.pixels) p = blend(mean, p, alpha);
  return out;
}

Image adjust_saturation(const Image& image, double factor) {
  check_factor(factor, "adjust_saturation");
  if (image.channels == 1) return image;
  const auto alpha = static_cast<float>(factor);
  Image out = image;
  for (size_t i = 0; i + 2 < out.pixels.size(); i += 3) {
    const int grey = luma(&image.pixels[i]);
    for (size_t c = 0; c < 3; ++c) out.pixels[i + c] = blend(grey, image.pixels[i + c], alpha);
  }
  return out;
}

Image adjust_sharpness(const Image& image, double factor) {
  check_factor(factor, "adjust_sharpness");
  // ImageFilter.SMOOTH through ImagingFilter3x3: the kernel divided by 13 in C float, summed row
  // by row from the one below, 0.5 added for rounding; the border rows and columns are copied.
  Image smooth = image;
  const int64_t ch = image.channels;
  const float side = 1.0f / 13.0f;
  const float centre = 5.0f / 13.0f;
  if (image.height >= 3 && image.width >= 3) {
    for (int64_t y = 1; y + 1 < image.height; ++y) {
      for (int64_t x = 1; x + 1 < image.width; ++x) {
        for (int64_t c = 0; c < ch; ++c) {
          const auto at = [&](int64_t yy, int64_t xx) {
            return static_cast<float>(image.at(yy, xx, c));
          };
          float sum = 0.5f;
          sum += at(y + 1, x - 1) * side + at(y + 1, x) * side + at(y + 1, x + 1) * side;
          sum += at(y, x - 1) * side + at(y, x) * centre + at(y, x + 1) * side;
          sum += at(y - 1, x - 1) * side + at(y - 1, x) * side + at(y - 1, x + 1) * side;
          smooth.pixels[static_cast<size_t>((y * image.width + x) * ch + c)] =
              sum <= 0.0f ? 0 : sum >= 255.0f ? 255 : static_cast<uint8_t>(sum);
        }
      }
    }
  }
  const auto alpha = static_cast<float>(factor);
  Image out = image;
  for (size_t i = 0; i < out.pixels.size(); ++i) {
    out.pixels[i] = blend(smooth.pixels[i], image.pixels[i], alpha);
  }
  return out;
}

namespace {

// Convert.c rgb2hsv_row, its float and double steps as written there.
std::array<uint8_t, 3> to_hsv(const uint8_t* rgb) {
  const uint8_t r = rgb[0];
  const uint8_t g = rgb[1];
  const uint8_t b = rgb[2];
  const uint8_t max = std::max(r, std::max(g, b));
  const uint8_t min = std::min(r, std::min(g, b));
  if (min == max) return {0, 0, max};
  const auto range = static_cast<float>(max - min);
  const float s = range / static_cast<float>(max);
  const float rc = static_cast<float>(max - r) / range;
  const float gc = static_cast<float>(max - g) / range;
  const float bc = static_cast<float>(max - b) / range;
  float h = 0;
  if (r == max) {
    h = bc - gc;
  } else if (g == max) {
    h = static_cast<float>(2.0 + rc - bc);
  } else {
    h = static_cast<float>(4.0 + gc - rc);
  }
  h = static_cast<float>(std::fmod(h / 6.0 + 1.0, 1.0));
  const auto byte = [](double v) { return static_cast<uint8_t>(std::clamp(static_cast<int>(v), 0, 255)); };
  return {byte(h * 255.0), byte(s * 255.0), max};
}

// Convert.c hsv2rgb.
std::array<uint8_t, 3> to_rgb_pixel(uint8_t h, uint8_t s, uint8_t v) {
  if (s == 0) return {v, v, v};
  const int i = static_cast<int>(std::floor(static_cast<float>(h) * 6.0 / 255.0));
  const auto f = static_cast<float>(static_cast<float>(h) * 6.0 / 255.0 - static_cast<float>(i));
  const auto fs = static_cast<float>(static_cast<float>(s) / 255.0);
  const auto byte = [](double value) {
    return static_cast<uint8_t>(std::clamp(static_cast<int>(std::round(value)), 0, 255));
  };
  const uint8_t p = byte(static_cast<float>(v) * (1.0 - fs));
  const uint8_t q = byte(static_cast<float>(v) * (1.0 - fs * f));
  const uint8_t t = byte(static_cast<float>(v) * (1.0 - fs * (1.0 - f)));
  switch (i % 6) {
    case 0:
      return {v, t, p};
    case 1:
      return {q, v, p};
    case 2:
      return {p, v, t};
    case 3:
      return {p, q, v};
    case 4:
      return {t, p, v};
    default:
      return {v, p, q};
  }
}

}  // namespace

Image adjust_hue(const Image& image, double factor) {
  if (!(factor >= -0.5 && factor <= 0.5)) {
    throw InvalidArgument("adjust_hue: expected a factor in [-0.5, 0.5], got " +
                          std::to_string(factor));
  }
  if (image.channels == 1) return image;
  // numpy's uint8(factor * 255): truncated towards zero, then modulo 256.
  const auto shift = static_cast<uint8_t>(static_cast<int>(factor * 255));
  Image out = image;
  for (size_t i = 0; i + 2 < out.pixels.size(); i += 3) {
    const auto hsv = to_hsv(&image.pixels[i]);
    const auto rgb = to_rgb_pixel(static_cast<uint8_t>(hsv[0] + shift), hsv[1], hsv[2]);
    std::copy(rgb.begin(), rgb.end(), &out.pixels[i]);
  }
  return out;
}

Image to_grayscale(const Image& image) {
  if (image.channels == 1) return image;
  Image out = Image::filled(image.height, image.width, 1);
  for (size_t i = 0, o = 0; o < out.pixels.size(); i += 3, ++o) {
    out.pixels[o] = luma(&image.pixels[i]);
  }
  return out;
}

Image to_rgb(const Image& image) {
  if (image.channels == 3) return image;
  Image out = Image::filled(image.height, image.width, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    std::fill_n(&out.pixels[i * 3], 3, image.pixels[i]);
  }
  return out;
}

}  // namespace xfer::transforms
