#pragma once
// The deterministic image operations behind the transforms, each the exact counterpart of
// torchvision 0.14's `transforms.functional` on a PIL image (Pillow 9.4). Every function takes and
// returns an 8-bit HWC Image with 1 or 3 channels.

#include "xfer/core/interpolation.h"
#include "xfer/transforms/image.h"

#include <array>
#include <cstdint>
#include <optional>

namespace xfer::transforms {

/// A height and a width in pixels.
struct Size {
  /// Rows.
  int64_t height = 0;
  /// Columns.
  int64_t width = 0;
  bool operator==(const Size& other) const {
    return height == other.height && width == other.width;
  }
};

/// A crop box: top-left corner and size, in pixels of the image it is cut from.
struct Box {
  /// First row.
  int64_t top = 0;
  /// First column.
  int64_t left = 0;
  /// Rows.
  int64_t height = 0;
  /// Columns.
  int64_t width = 0;
  bool operator==(const Box& other) const {
    return top == other.top && left == other.left && height == other.height && width == other.width;
  }
};

/// The size torchvision's Resize(shorter) gives an image of `input` size: the shorter side becomes
/// `shorter`, the longer `int(shorter * long / short)` (truncated, as torchvision).
/// Throws InvalidArgument when `shorter` < 1 or the input is empty.
Size resized_size(Size input, int64_t shorter);

/// Resizes to exactly `size` with Pillow's antialiased filter (its support scaled by the
/// downscale factor, 22-bit fixed-point coefficients, horizontal pass then vertical), which is what
/// torchvision's Resize does to a PIL image; bit-exact with Pillow 9.4.
/// Throws InvalidArgument for an empty image or a size < 1.
Image resize(const Image& image, Size size,
             Interpolation interpolation = Interpolation::kBilinear);

/// Resizes so that the shorter side is `shorter` (torchvision's Resize(int)); see resized_size.
Image resize(const Image& image, int64_t shorter,
             Interpolation interpolation = Interpolation::kBilinear);

/// The pixels of resize(image, size) inside `region`, computed alone: the same bytes as
/// crop(resize(image, size), region), without computing the rest (Resize then CenterCrop).
/// Throws InvalidArgument for an empty image, a size < 1, or a region that is empty or not
/// inside `size`.
Image resize_region(const Image& image, Size size, const Box& region,
                    Interpolation interpolation = Interpolation::kBilinear);

/// The box torchvision's center_crop cuts out of an image of `image` size when it is at least
/// `size` on both sides: centred, its offset rounded half to even as Python's round().
Box centered_box(Size image, Size size);

/// Cuts `box` out of the image; parts of the box outside the image are 0, as PIL's crop.
/// Throws InvalidArgument for a box with a size < 1.
Image crop(const Image& image, const Box& box);

/// torchvision's center_crop: pads with 0 to at least `size` when the image is smaller, then cuts
/// the centred box, its offset rounded half to even as Python's round().
/// Throws InvalidArgument for a size < 1.
Image center_crop(const Image& image, Size size);

/// Adds constant borders of `fill`: `left`, `top`, `right`, `bottom` pixels.
/// Throws InvalidArgument for a negative border.
Image pad(const Image& image, int64_t left, int64_t top, int64_t right, int64_t bottom,
          uint8_t fill = 0);

/// Mirrors left to right.
Image hflip(const Image& image);

/// PIL's ImageEnhance.Brightness(factor): blends with black. Throws InvalidArgument for factor < 0.
Image adjust_brightness(const Image& image, double factor);

/// PIL's ImageEnhance.Contrast(factor): blends with the grey of the image's mean luma (rounded).
/// Throws InvalidArgument for factor < 0.
Image adjust_contrast(const Image& image, double factor);

/// PIL's ImageEnhance.Color(factor): blends with the image's luma; grey images are unchanged.
/// Throws InvalidArgument for factor < 0.
Image adjust_saturation(const Image& image, double factor);

/// torchvision's adjust_sharpness: PIL's ImageEnhance.Sharpness(factor), a blend with the image
/// through ImageFilter.SMOOTH (3 × 3, centre 5, the rest 1, over 13; border pixels kept).
/// Throws InvalidArgument for factor < 0.
Image adjust_sharpness(const Image& image, double factor);
/// torchvision's adjust_hue: the hue channel of PIL's `convert("HSV")` (8-bit) shifted by
/// `uint8(factor × 255)` modulo 256, converted back to RGB; grey images are unchanged.
/// Throws InvalidArgument for factor outside [-0.5, 0.5].
Image adjust_hue(const Image& image, double factor);
/// PIL's ImageOps.posterize: each byte keeps its `bits` high bits. Throws InvalidArgument for bits
/// outside [0, 8].
Image posterize(const Image& image, int64_t bits);
/// PIL's ImageOps.solarize: bytes at or above `threshold` become 255 - byte.
Image solarize(const Image& image, double threshold);
/// PIL's ImageOps.autocontrast (no cutoff): each channel stretched linearly so its darkest byte
/// becomes 0 and its brightest 255 (truncated, clamped); a one-valued channel is unchanged.
Image autocontrast(const Image& image);
/// PIL's ImageOps.equalize: each channel mapped through its cumulative histogram.
Image equalize(const Image& image);
/// PIL's ImageOps.invert: 255 - byte.
Image invert(const Image& image);

/// The parameters of torchvision's affine: a rotation by `angle` degrees (counter-clockwise),
/// `shear` degrees parallel to x and y, a `scale` and a translation, about `center`.
struct AffineParams {
  /// Rotation in degrees, counter-clockwise.
  double angle = 0;
  /// Horizontal and vertical translation in pixels (torchvision takes integers).
  std::array<double, 2> translate{0, 0};
  /// Scale, > 0.
  double scale = 1;
  /// Shear angles in degrees, parallel to x then to y.
  std::array<double, 2> shear{0, 0};
  /// The fixed point (x, y); unset for the image's centre (width / 2, height / 2).
  std::optional<std::array<double, 2>> center;
};

/// torchvision's affine on a PIL image with nearest-neighbour sampling and fill 0: Pillow's
/// Image.transform(AFFINE) of torchvision's inverse matrix, in Pillow's 16.16 fixed point.
/// Throws InvalidArgument for an empty image or a scale <= 0.
Image affine(const Image& image, const AffineParams& params);
/// torchvision's rotate (PIL's Image.rotate, nearest, no expand, fill 0): `angle` degrees
/// counter-clockwise about the centre, the output the input's size.
Image rotate(const Image& image, double angle);

/// PIL's `convert("L")`: ITU-R 601-2 luma in 16-bit fixed point, rounded. A grey image is returned
/// as it is.
Image to_grayscale(const Image& image);

/// Replicates a grey image into 3 equal channels (PIL's `convert("RGB")` of an "L" image); an RGB
/// image is returned as it is.
Image to_rgb(const Image& image);

}  // namespace xfer::transforms
