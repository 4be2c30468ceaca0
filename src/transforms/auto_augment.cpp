// Mirrors torchvision 0.14 transforms/autoaugment.py: _apply_op, the augmentation spaces, the
// AutoAugment policies, and the draws of AutoAugment, RandAugment and TrivialAugmentWide.

#include "xfer/transforms/auto_augment.h"

#include "xfer/core/error.h"

#include <cmath>
#include <utility>

namespace xfer::transforms {
namespace {

using Op = AugmentOp;

// Python's math.degrees: times the rounded constant 180 / pi.
double degrees(double radians) { return radians * (180.0 / 3.14159265358979323846); }

// torch.linspace(lo, hi, bins) in float32 as Debian's torch 1.13 computes it on an x86 CPU with
// AVX2, whose values torchvision's magnitude tables hold: the step in float; chunks of two 8-wide
// vectors, each vector's first value start + step × index (fused multiply-add) counted from the
// nearer end and its lanes that value plus lane × step (rounded twice); the rest one value at a
// time, fused. Other kernels (AVX-512, none) round some values 1 ulp apart, so this does not call
// ATen. Checked against torch.linspace on 25 ranges (tests/fixtures/transforms: 5 tables).
std::vector<double> linspace(double lo, double hi, int64_t bins) {
  const auto start = static_cast<float>(lo);
  const auto end = static_cast<float>(hi);
  const float step = (end - start) / static_cast<float>(bins - 1);
  const int64_t halfway = bins / 2;
  const auto value = [&](int64_t index) {
    return index < halfway
               ? std::fma(step, static_cast<float>(index), start)
               : std::fma(-step, static_cast<float>(bins - index - 1), end);
  };
  constexpr int64_t kLanes = 8;
  std::vector<double> out(static_cast<size_t>(bins));
  int64_t index = 0;
  for (; index + 2 * kLanes <= bins; index += 2 * kLanes) {
    for (int64_t vector = index; vector < index + 2 * kLanes; vector += kLanes) {
      const float first = value(vector);
      for (int64_t lane = 0; lane < kLanes; ++lane) {
        const float offset = static_cast<float>(lane) * step;
        out[static_cast<size_t>(vector + lane)] = first + offset;
      }
    }
  }
  for (; index < bins; ++index) out[static_cast<size_t>(index)] = value(index);
  return out;
}

// `8 - (torch.arange(bins) / ((bins - 1) / levels)).round().int()`: a float32 division, rounded
// half to even.
std::vector<double> posterize_bits(int64_t bins, double levels) {
  const auto divisor = static_cast<float>((static_cast<double>(bins) - 1) / levels);
  std::vector<double> bits;
  for (int64_t i = 0; i < bins; ++i) {
    bits.push_back(8 - std::nearbyint(static_cast<float>(i) / divisor));
  }
  return bits;
}

// One operation of a learned sub-policy: probability and magnitude bin (-1 for none).
struct PolicyStep {
  Op op;
  double p;
  int bin;
};
using SubPolicy = std::pair<PolicyStep, PolicyStep>;

const std::vector<SubPolicy>& policies(AutoAugmentPolicy policy) {
  static const std::vector<SubPolicy> imagenet{
      {{Op::kPosterize, 0.4, 8}, {Op::kRotate, 0.6, 9}},
      {{Op::kSolarize, 0.6, 5}, {Op::kAutoContrast, 0.6, -1}},
      {{Op::kEqualize, 0.8, -1}, {Op::kEqualize, 0.6, -1}},
      {{Op::kPosterize, 0.6, 7}, {Op::kPosterize, 0.6, 6}},
      {{Op::kEqualize, 0.4, -1}, {Op::kSolarize, 0.2, 4}},
      {{Op::kEqualize, 0.4, -1}, {Op::kRotate, 0.8, 8}},
      {{Op::kSolarize, 0.6, 3}, {Op::kEqualize, 0.6, -1}},
      {{Op::kPosterize, 0.8, 5}, {Op::kEqualize, 1.0, -1}},
      {{Op::kRotate, 0.2, 3}, {Op::kSolarize, 0.6, 8}},
      {{Op::kEqualize, 0.6, -1}, {Op::kPosterize, 0.4, 6}},
      {{Op::kRotate, 0.8, 8}, {Op::kColor, 0.4, 0}},
      {{Op::kRotate, 0.4, 9}, {Op::kEqualize, 0.6, -1}},
      {{Op::kEqualize, 0.0, -1}, {Op::kEqualize, 0.8, -1}},
      {{Op::kInvert, 0.6, -1}, {Op::kEqualize, 1.0, -1}},
      {{Op::kColor, 0.6, 4}, {Op::kContrast, 1.0, 8}},
      {{Op::kRotate, 0.8, 8}, {Op::kColor, 1.0, 2}},
      {{Op::kColor, 0.8, 8}, {Op::kSolarize, 0.8, 7}},
      {{Op::kSharpness, 0.4, 7}, {Op::kInvert, 0.6, -1}},
      {{Op::kShearX, 0.6, 5}, {Op::kEqualize, 1.0, -1}},
      {{Op::kColor, 0.4, 0}, {Op::kEqualize, 0.6, -1}},
      {{Op::kEqualize, 0.4, -1}, {Op::kSolarize, 0.2, 4}},
      {{Op::kSolarize, 0.6, 5}, {Op::kAutoContrast, 0.6, -1}},
      {{Op::kInvert, 0.6, -1}, {Op::kEqualize, 1.0, -1}},
      {{Op::kColor, 0.6, 4}, {Op::kContrast, 1.0, 8}},
      {{Op::kEqualize, 0.8, -1}, {Op::kEqualize, 0.6, -1}},
  };
  static const std::vector<SubPolicy> cifar10{
      {{Op::kInvert, 0.1, -1}, {Op::kContrast, 0.2, 6}},
      {{Op::kRotate, 0.7, 2}, {Op::kTranslateX, 0.3, 9}},
      {{Op::kSharpness, 0.8, 1}, {Op::kSharpness, 0.9, 3}},
      {{Op::kShearY, 0.5, 8}, {Op::kTranslateY, 0.7, 9}},
      {{Op::kAutoContrast, 0.5, -1}, {Op::kEqualize, 0.9, -1}},
      {{Op::kShearY, 0.2, 7}, {Op::kPosterize, 0.3, 7}},
      {{Op::kColor, 0.4, 3}, {Op::kBrightness, 0.6, 7}},
      {{Op::kSharpness, 0.3, 9}, {Op::kBrightness, 0.7, 9}},
      {{Op::kEqualize, 0.6, -1}, {Op::kEqualize, 0.5, -1}},
      {{Op::kContrast, 0.6, 7}, {Op::kSharpness, 0.6, 5}},
      {{Op::kColor, 0.7, 7}, {Op::kTranslateX, 0.5, 8}},
      {{Op::kEqualize, 0.3, -1}, {Op::kAutoContrast, 0.4, -1}},
      {{Op::kTranslateY, 0.4, 3}, {Op::kSharpness, 0.2, 6}},
      {{Op::kBrightness, 0.9, 6}, {Op::kColor, 0.2, 8}},
      {{Op::kSolarize, 0.5, 2}, {Op::kInvert, 0.0, -1}},
      {{Op::kEqualize, 0.2, -1}, {Op::kAutoContrast, 0.6, -1}},
      {{Op::kEqualize, 0.2, -1}, {Op::kEqualize, 0.6, -1}},
      {{Op::kColor, 0.9, 9}, {Op::kEqualize, 0.6, -1}},
      {{Op::kAutoContrast, 0.8, -1}, {Op::kSolarize, 0.2, 8}},
      {{Op::kBrightness, 0.1, 3}, {Op::kColor, 0.7, 0}},
      {{Op::kSolarize, 0.4, 5}, {Op::kAutoContrast, 0.9, -1}},
      {{Op::kTranslateY, 0.9, 9}, {Op::kTranslateY, 0.7, 9}},
      {{Op::kAutoContrast, 0.9, -1}, {Op::kSolarize, 0.8, 3}},
      {{Op::kEqualize, 0.8, -1}, {Op::kInvert, 0.1, -1}},
      {{Op::kTranslateY, 0.7, 9}, {Op::kAutoContrast, 0.9, -1}},
  };
  static const std::vector<SubPolicy> svhn{
      {{Op::kShearX, 0.9, 4}, {Op::kInvert, 0.2, -1}},
      {{Op::kShearY, 0.9, 8}, {Op::kInvert, 0.7, -1}},
      {{Op::kEqualize, 0.6, -1}, {Op::kSolarize, 0.6, 6}},
      {{Op::kInvert, 0.9, -1}, {Op::kEqualize, 0.6, -1}},
      {{Op::kEqualize, 0.6, -1}, {Op::kRotate, 0.9, 3}},
      {{Op::kShearX, 0.9, 4}, {Op::kAutoContrast, 0.8, -1}},
      {{Op::kShearY, 0.9, 8}, {Op::kInvert, 0.4, -1}},
      {{Op::kShearY, 0.9, 5}, {Op::kSolarize, 0.2, 6}},
      {{Op::kInvert, 0.9, -1}, {Op::kAutoContrast, 0.8, -1}},
      {{Op::kEqualize, 0.6, -1}, {Op::kRotate, 0.9, 3}},
      {{Op::kShearX, 0.9, 4}, {Op::kSolarize, 0.3, 3}},
      {{Op::kShearY, 0.8, 8}, {Op::kInvert, 0.7, -1}},
      {{Op::kEqualize, 0.9, -1}, {Op::kTranslateY, 0.6, 6}},
      {{Op::kInvert, 0.9, -1}, {Op::kEqualize, 0.6, -1}},
      {{Op::kContrast, 0.3, 3}, {Op::kRotate, 0.8, 4}},
      {{Op::kInvert, 0.8, -1}, {Op::kTranslateY, 0.0, 2}},
      {{Op::kShearY, 0.7, 6}, {Op::kSolarize, 0.4, 8}},
      {{Op::kInvert, 0.6, -1}, {Op::kRotate, 0.8, 4}},
      {{Op::kShearY, 0.3, 7}, {Op::kTranslateX, 0.9, 3}},
      {{Op::kShearX, 0.1, 6}, {Op::kInvert, 0.6, -1}},
      {{Op::kSolarize, 0.7, 2}, {Op::kTranslateY, 0.6, 7}},
      {{Op::kShearY, 0.8, 4}, {Op::kInvert, 0.8, -1}},
      {{Op::kShearX, 0.7, 9}, {Op::kTranslateY, 0.8, 3}},
      {{Op::kShearY, 0.8, 5}, {Op::kAutoContrast, 0.7, -1}},
      {{Op::kShearX, 0.7, 2}, {Op::kInvert, 0.1, -1}},
  };
  switch (policy) {
    case AutoAugmentPolicy::kImagenet:
      return imagenet;
    case AutoAugmentPolicy::kCifar10:
      return cifar10;
    case AutoAugmentPolicy::kSvhn:
      break;
  }
  return svhn;
}

// `magnitude`, negated with probability 1/2 when the operation is signed.
double signed_magnitude(const OpSpace& op, double magnitude, Rng& rng) {
  return op.is_signed && rng.integer(0, 1) == 1 ? -magnitude : magnitude;
}

void check_bins(int64_t bins, const char* what) {
  if (bins < 2) {
    throw InvalidArgument(std::string(what) + ": expected at least 2 magnitude bins, got " +
                          std::to_string(bins));
  }
}

}  // namespace

std::string op_name(AugmentOp op) {
  switch (op) {
    case Op::kIdentity:
      return "Identity";
    case Op::kShearX:
      return "ShearX";
    case Op::kShearY:
      return "ShearY";
    case Op::kTranslateX:
      return "TranslateX";
    case Op::kTranslateY:
      return "TranslateY";
    case Op::kRotate:
      return "Rotate";
    case Op::kBrightness:
      return "Brightness";
    case Op::kColor:
      return "Color";
    case Op::kContrast:
      return "Contrast";
    case Op::kSharpness:
      return "Sharpness";
    case Op::kPosterize:
      return "Posterize";
    case Op::kSolarize:
      return "Solarize";
    case Op::kAutoContrast:
      return "AutoContrast";
    case Op::kEqualize:
      return "Equalize";
    case Op::kInvert:
      return "Invert";
  }
  return "?";
}

Image apply_op(const Image& image, AugmentOp op, double magnitude) {
  AffineParams affine_params;
  switch (op) {
    case Op::kShearX:
      affine_params.shear = {degrees(std::atan(magnitude)), 0.0};
      affine_params.center = std::array<double, 2>{0, 0};
      return affine(image, affine_params);
    case Op::kShearY:
      affine_params.shear = {0.0, degrees(std::atan(magnitude))};
      affine_params.center = std::array<double, 2>{0, 0};
      return affine(image, affine_params);
    case Op::kTranslateX:
      affine_params.translate = {std::trunc(magnitude), 0};
      return affine(image, affine_params);
    case Op::kTranslateY:
      affine_params.translate = {0, std::trunc(magnitude)};
      return affine(image, affine_params);
    case Op::kRotate:
      return rotate(image, magnitude);
    case Op::kBrightness:
      return adjust_brightness(image, 1.0 + magnitude);
    case Op::kColor:
      return adjust_saturation(image, 1.0 + magnitude);
    case Op::kContrast:
      return adjust_contrast(image, 1.0 + magnitude);
    case Op::kSharpness:
      return adjust_sharpness(image, 1.0 + magnitude);
    case Op::kPosterize:
      return posterize(image, static_cast<int64_t>(magnitude));
    case Op::kSolarize:
      return solarize(image, magnitude);
    case Op::kAutoContrast:
      return autocontrast(image);
    case Op::kEqualize:
      return equalize(image);
    case Op::kInvert:
      return invert(image);
    case Op::kIdentity:
      break;
  }
  return image;
}

std::vector<OpSpace> augmentation_space(AugmentSpace space, int64_t bins, Size image) {
  check_bins(bins, "augmentation space");
  std::vector<OpSpace> ops;
  const auto add = [&ops](Op op, std::vector<double> magnitudes, bool is_signed) {
    ops.push_back({op, std::move(magnitudes), is_signed});
  };
  const bool wide = space == AugmentSpace::kTrivialAugmentWide;
  if (space != AugmentSpace::kAutoAugment) add(Op::kIdentity, {}, false);
  add(Op::kShearX, linspace(0.0, wide ? 0.99 : 0.3, bins), true);
  add(Op::kShearY, linspace(0.0, wide ? 0.99 : 0.3, bins), true);
  add(Op::kTranslateX,
      linspace(0.0, wide ? 32.0 : 150.0 / 331.0 * static_cast<double>(image.width), bins), true);
  add(Op::kTranslateY,
      linspace(0.0, wide ? 32.0 : 150.0 / 331.0 * static_cast<double>(image.height), bins), true);
  add(Op::kRotate, linspace(0.0, wide ? 135.0 : 30.0, bins), true);
  for (const Op op : {Op::kBrightness, Op::kColor, Op::kContrast, Op::kSharpness}) {
    add(op, linspace(0.0, wide ? 0.99 : 0.9, bins), true);
  }
  add(Op::kPosterize, posterize_bits(bins, wide ? 6.0 : 4.0), false);
  add(Op::kSolarize, linspace(255.0, 0.0, bins), false);
  add(Op::kAutoContrast, {}, false);
  add(Op::kEqualize, {}, false);
  if (space == AugmentSpace::kAutoAugment) add(Op::kInvert, {}, false);
  return ops;
}

Image auto_augment(const Image& image, AutoAugmentPolicy policy, Rng& rng) {
  const auto& subpolicies = policies(policy);
  const auto& chosen = subpolicies[static_cast<size_t>(
      rng.integer(0, static_cast<int64_t>(subpolicies.size()) - 1))];
  const double draws[2] = {rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0)};
  const auto space =
      augmentation_space(AugmentSpace::kAutoAugment, 10, {image.height, image.width});
  Image out = image;
  int index = 0;
  for (const PolicyStep& step : {chosen.first, chosen.second}) {
    if (draws[index++] > step.p) continue;
    const OpSpace* op = nullptr;
    for (const auto& candidate : space) {
      if (candidate.op == step.op) op = &candidate;
    }
    const double magnitude = step.bin >= 0 ? op->magnitudes[static_cast<size_t>(step.bin)] : 0.0;
    out = apply_op(out, step.op, signed_magnitude(*op, magnitude, rng));
  }
  return out;
}

Image rand_augment(const Image& image, int64_t num_ops, int64_t magnitude, int64_t bins, Rng& rng) {
  check_bins(bins, "rand_augment");
  if (num_ops < 0 || magnitude < 0 || magnitude >= bins) {
    throw InvalidArgument("rand_augment: expected num_ops >= 0 and a magnitude in [0, " +
                          std::to_string(bins) + "), got " + std::to_string(num_ops) + " and " +
                          std::to_string(magnitude));
  }
  const auto space =
      augmentation_space(AugmentSpace::kRandAugment, bins, {image.height, image.width});
  Image out = image;
  for (int64_t i = 0; i < num_ops; ++i) {
    const auto& op =
        space[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(space.size()) - 1))];
    const double m = op.magnitudes.empty() ? 0.0 : op.magnitudes[static_cast<size_t>(magnitude)];
    out = apply_op(out, op.op, signed_magnitude(op, m, rng));
  }
  return out;
}

Image trivial_augment_wide(const Image& image, int64_t bins, Rng& rng) {
  check_bins(bins, "trivial_augment");
  const auto space =
      augmentation_space(AugmentSpace::kTrivialAugmentWide, bins, {image.height, image.width});
  const auto& op =
      space[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(space.size()) - 1))];
  const double m =
      op.magnitudes.empty() ? 0.0 : op.magnitudes[static_cast<size_t>(rng.integer(0, bins - 1))];
  return apply_op(image, op.op, signed_magnitude(op, m, rng));
}

}  // namespace xfer::transforms
