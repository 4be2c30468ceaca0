#pragma once
// torchvision 0.14's automatic augmentations (transforms/autoaugment.py) on 8-bit images:
// AutoAugment, RandAugment and TrivialAugmentWide, with nearest-neighbour geometry and fill 0,
// their defaults. Each operation matches torchvision's `_apply_op` on a PIL image byte for byte;
// the random choices are drawn from xfer's Rng, not torch's generator.

#include "xfer/transforms/functional.h"
#include "xfer/transforms/random.h"

#include <cstdint>
#include <string>
#include <vector>

namespace xfer::transforms {

/// One operation of the augmentation policies, named as torchvision names it.
enum class AugmentOp {
  kIdentity,
  kShearX,
  kShearY,
  kTranslateX,
  kTranslateY,
  kRotate,
  kBrightness,
  kColor,
  kContrast,
  kSharpness,
  kPosterize,
  kSolarize,
  kAutoContrast,
  kEqualize,
  kInvert,
};

/// torchvision's name of `op` ("ShearX").
std::string op_name(AugmentOp op);

/// torchvision's `_apply_op(image, op, magnitude, NEAREST, fill=None)`: shears by
/// atan(magnitude) about the top-left corner, translations by int(magnitude) pixels, rotation by
/// magnitude degrees, enhancements by factor 1 + magnitude, posterize to int(magnitude) bits,
/// solarize at threshold magnitude; the others ignore it.
Image apply_op(const Image& image, AugmentOp op, double magnitude);

/// An operation and the magnitudes its bins give (torchvision's `_augmentation_space`).
struct OpSpace {
  /// The operation.
  AugmentOp op = AugmentOp::kIdentity;
  /// Magnitude of each bin, as torchvision's float32 tensors hold them; empty for the
  /// operations without one (AutoContrast, Equalize, Invert, Identity).
  std::vector<double> magnitudes;
  /// Whether a magnitude is negated with probability 1/2.
  bool is_signed = false;
};

/// The three augmentation spaces of torchvision 0.14.
enum class AugmentSpace {
  /// AutoAugment's: no Identity, Invert last; translations up to 150/331 of the image side.
  kAutoAugment,
  /// RandAugment's: Identity first, no Invert; the same magnitudes as AutoAugment's.
  kRandAugment,
  /// TrivialAugmentWide's: wider magnitudes (shear 0.99, translate 32 px, rotate 135°,
  /// posterize down to 2 bits).
  kTrivialAugmentWide,
};

/// The operations of `space` in torchvision's order, with `bins` magnitudes each for an image of
/// `image` size. Throws InvalidArgument for bins < 2.
std::vector<OpSpace> augmentation_space(AugmentSpace space, int64_t bins, Size image);

/// AutoAugment's learned policies.
enum class AutoAugmentPolicy {
  /// The ImageNet policy (torchvision's default).
  kImagenet,
  /// The CIFAR-10 policy.
  kCifar10,
  /// The SVHN policy.
  kSvhn,
};

/// AutoAugment(policy): one of the policy's 25 sub-policies uniformly, each of its two
/// operations applied with its probability at its magnitude bin (of 10), signed ones negated
/// with probability 1/2.
Image auto_augment(const Image& image, AutoAugmentPolicy policy, Rng& rng);

/// RandAugment(num_ops, magnitude, bins): `num_ops` operations, each uniform over RandAugment's
/// space, at bin `magnitude`. Throws InvalidArgument for num_ops < 0, bins < 2 or a magnitude
/// outside [0, bins).
Image rand_augment(const Image& image, int64_t num_ops, int64_t magnitude, int64_t bins, Rng& rng);

/// TrivialAugmentWide(bins): one operation uniform over its space, at a uniform bin.
/// Throws InvalidArgument for bins < 2.
Image trivial_augment_wide(const Image& image, int64_t bins, Rng& rng);

}  // namespace xfer::transforms
