#pragma once
// A pipeline of image transforms with torchvision 0.14 semantics, ending in ToTensor and an
// optional Normalize, built in code, from a short spec string, or from a model's eval parameters.
//
// Spec grammar (steps run left to right; ToTensor is always implied at the end):
//   spec  := step ("," step)*         an empty spec is ToTensor alone
//   resize=S[:I] | resize=HxW[:I]     Resize(S): shorter side to S; Resize((H, W)); I is the
//                                     interpolation, bilinear (default) or bicubic
//   center_crop=S | center_crop=HxW   CenterCrop
//   random_resized_crop=S[:A-B[:R-Q]] RandomResizedCrop(S, scale=(A, B), ratio=(R, Q));
//                                     defaults scale 0.08-1, ratio 0.75-1.3333333333333333
//   random_crop=S[:P]                 RandomCrop(S, padding=P), zero fill
//   hflip[=P]                         RandomHorizontalFlip(P), default 0.5
//   color_jitter=B[:C[:S[:H]]]        ColorJitter(brightness=B, contrast=C, saturation=S, hue=H)
//   auto_augment[=POLICY]             AutoAugment(POLICY): imagenet (default), cifar10 or svhn
//   rand_augment[=N[:M[:BINS]]]       RandAugment(num_ops=N, magnitude=M, num_magnitude_bins=BINS);
//                                     defaults 2, 9, 31
//   trivial_augment[=BINS]            TrivialAugmentWide(num_magnitude_bins=BINS), default 31
//   grayscale                         Grayscale(num_output_channels=3)
//   five_crop=S | five_crop=HxW       FiveCrop: the top-left, top-right, bottom-left, bottom-right
//                                     and centre crops stacked top to bottom in one 5H x W image
//                                     (what five-crop test-time augmentation splits again)
//   normalize=NAME | normalize=M:M:M:S:S:S
//                                     Normalize; NAME is imagenet, cifar10 or half (0.5, 0.5);
//                                     must be the last image step
//   random_erasing[=P[:A-B[:R-Q]]]    RandomErasing(p=P, scale=(A, B), ratio=(R, Q), value=0) on
//                                     the tensor, after Normalize; defaults 0.5, 0.02-0.33,
//                                     0.3-3.3; must be the last step
// Example: "resize=256,center_crop=224,normalize=imagenet".

#include "xfer/transforms/auto_augment.h"
#include "xfer/transforms/functional.h"
#include "xfer/transforms/random.h"

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xfer::transforms {

/// How a model's input is prepared for evaluation: resize the shorter side to `resize`, center-crop
/// to `size`, scale to [0, 1], normalise by `mean` and `std` per RGB channel. Defaults are
/// ImageNet's (resnet18's eval transform).
struct EvalParams {
  /// Side of the square crop the model sees.
  int64_t size = 224;
  /// Shorter side after the resize that precedes the crop.
  int64_t resize = 256;
  /// Per-channel mean subtracted after scaling to [0, 1].
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  /// Per-channel standard deviation divided by after the mean.
  std::array<double, 3> std{0.229, 0.224, 0.225};
  /// Filter of the resize.
  Interpolation interpolation = Interpolation::kBilinear;
};

/// ImageNet's per-channel mean, as torchvision's weights use it.
inline constexpr std::array<double, 3> kImagenetMean{0.485, 0.456, 0.406};
/// ImageNet's per-channel standard deviation.
inline constexpr std::array<double, 3> kImagenetStd{0.229, 0.224, 0.225};

/// torchvision's RandomResizedCrop.get_params: up to 10 tries of an area fraction uniform in
/// [scale_lo, scale_hi] and a log-uniform aspect ratio in [ratio_lo, ratio_hi], each box placed
/// uniformly; then the centred box of the closest allowed ratio. Throws InvalidArgument for an
/// empty image or ranges with lo > hi or values <= 0.
Box random_resized_crop_box(Size image, double scale_lo, double scale_hi, double ratio_lo,
                            double ratio_hi, Rng& rng);

/// torchvision's RandomErasing.get_params: up to 10 tries of an area fraction uniform in
/// [scale_lo, scale_hi] and a log-uniform aspect ratio in [ratio_lo, ratio_hi] (height over
/// width), the first box strictly smaller than the image on both sides placed uniformly; nullopt
/// when none fits. Throws InvalidArgument for an empty image or bad ranges.
std::optional<Box> random_erasing_box(Size image, double scale_lo, double scale_hi,
                                      double ratio_lo, double ratio_hi, Rng& rng);

/// A composed transform: image steps (some random) then ToTensor (÷255, HWC to CHW, grey
/// replicated to 3 channels) and an optional Normalize, all with torchvision 0.14 semantics on PIL
/// images. Immutable once built and safe to share between threads; the randomness comes from the
/// seed given to each call.
class Transform {
 public:
  /// ToTensor alone.
  Transform() = default;

  /// Parses a spec (grammar at the top of this header). Throws InvalidArgument naming the step,
  /// what it expects and what it got.
  static Transform parse(const std::string& spec);

  /// Resize(params.resize, params.interpolation), CenterCrop(params.size), ToTensor,
  /// Normalize(params.mean, params.std).
  /// Throws InvalidArgument for sizes < 1 or a std <= 0.
  static Transform eval(const EvalParams& params);

  /// The usual fine-tuning augmentation for a model with these eval parameters:
  /// RandomResizedCrop(params.size), RandomHorizontalFlip(0.5), ToTensor, Normalize.
  static Transform train(const EvalParams& params);

  /// Appends Resize(shorter, interpolation). Throws InvalidArgument when shorter < 1.
  Transform& resize(int64_t shorter, Interpolation interpolation = Interpolation::kBilinear);
  /// Appends Resize((height, width), interpolation). Throws InvalidArgument for a size < 1.
  Transform& resize(Size size, Interpolation interpolation = Interpolation::kBilinear);
  /// Appends CenterCrop(size). Throws InvalidArgument for a size < 1.
  Transform& center_crop(Size size);
  /// Appends RandomResizedCrop(size, scale, ratio) with bilinear resize.
  /// Throws InvalidArgument for a size < 1 or bad ranges (see random_resized_crop_box).
  Transform& random_resized_crop(Size size, std::array<double, 2> scale = {0.08, 1.0},
                                 std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0});
  /// Appends RandomCrop(size, padding) with zero fill. Throws InvalidArgument for a size < 1 or a
  /// negative padding.
  Transform& random_crop(Size size, int64_t padding = 0);
  /// Appends RandomHorizontalFlip(p). Throws InvalidArgument for p outside [0, 1].
  Transform& horizontal_flip(double p = 0.5);
  /// Appends ColorJitter(brightness, contrast, saturation, hue): each factor uniform in
  /// [max(0, 1 - x), 1 + x], the hue shift uniform in [-hue, hue], applied in a random order;
  /// 0 disables one. Throws InvalidArgument for a negative value or a hue above 0.5.
  Transform& color_jitter(double brightness, double contrast = 0, double saturation = 0,
                          double hue = 0);
  /// Appends AutoAugment(policy) (transforms/auto_augment.h).
  Transform& auto_augment(AutoAugmentPolicy policy = AutoAugmentPolicy::kImagenet);
  /// Appends RandAugment(num_ops, magnitude, bins). Throws InvalidArgument for num_ops < 0,
  /// bins < 2 or a magnitude outside [0, bins).
  Transform& rand_augment(int64_t num_ops = 2, int64_t magnitude = 9, int64_t bins = 31);
  /// Appends TrivialAugmentWide(bins). Throws InvalidArgument for bins < 2.
  Transform& trivial_augment(int64_t bins = 31);
  /// Appends Grayscale(num_output_channels=3).
  Transform& grayscale();
  /// Appends FiveCrop(size): torchvision's five crops (top-left, top-right, bottom-left,
  /// bottom-right, centre), stacked top to bottom into one image of 5 × height rows. Throws
  /// InvalidArgument for a size < 1; augment throws for an image smaller than the crop.
  Transform& five_crop(Size size);
  /// Sets Normalize(mean, std), applied after ToTensor. Throws InvalidArgument for a std <= 0.
  Transform& normalize(std::array<double, 3> mean, std::array<double, 3> std);
  /// Sets RandomErasing(p, scale, ratio, value=0), applied to the tensor after Normalize: with
  /// probability p, a box of area fraction uniform in `scale` and log-uniform aspect ratio in
  /// `ratio` (up to 10 tries for one that fits strictly inside) is set to 0.
  /// Throws InvalidArgument for p outside [0, 1] or bad ranges.
  Transform& random_erasing(double p = 0.5, std::array<double, 2> scale = {0.02, 0.33},
                            std::array<double, 2> ratio = {0.3, 3.3});

  /// Runs the image steps; random ones draw from Rng(seed) in step order.
  Image augment(Image image, uint64_t seed) const;

  /// ToTensor + Normalize (+ RandomErasing, drawn from `seed`, the seed given to augment) of an
  /// augmented image into `out`: 3 × H × W floats, planar (CHW) or, with `channels_last`,
  /// interleaved (HWC). Bit-exact with torchvision's float32 arithmetic.
  void write_tensor(const Image& image, float* out, bool channels_last, uint64_t seed) const;

  /// augment + ToTensor + Normalize: [3, H, W] float32.
  at::Tensor operator()(const Image& image, uint64_t seed) const;

  /// The size every output has, when a step fixes it (a crop, or a resize to HxW); nullopt when
  /// the output size follows the input's.
  std::optional<Size> output_size() const;

  /// Whether any step is random (a deterministic transform can have its outputs cached).
  bool is_random() const;

  /// The canonical spec of this transform; parse(spec()) gives an equal transform.
  std::string spec() const;

 private:
  enum class Kind {
    kResizeShorter,
    kResize,
    kCenterCrop,
    kRandomResizedCrop,
    kRandomCrop,
    kHorizontalFlip,
    kColorJitter,
    kGrayscale,
    kAutoAugment,
    kRandAugment,
    kTrivialAugment,
    kFiveCrop,
  };
  struct Step {
    Kind kind;
    Size size{};
    int64_t shorter = 0;
    std::array<double, 2> scale{0.08, 1.0};
    std::array<double, 2> ratio{3.0 / 4.0, 4.0 / 3.0};
    int64_t padding = 0;
    double p = 0.5;
    std::array<double, 4> jitter{0, 0, 0, 0};
    AutoAugmentPolicy policy = AutoAugmentPolicy::kImagenet;
    // RandAugment's operations a sample, and the magnitude bin; TrivialAugmentWide uses bins.
    int64_t num_ops = 2;
    int64_t magnitude = 9;
    int64_t bins = 31;
    Interpolation interpolation = Interpolation::kBilinear;
  };
  // RandomErasing's parameters.
  struct Erasing {
    double p = 0.5;
    std::array<double, 2> scale{0.02, 0.33};
    std::array<double, 2> ratio{0.3, 3.3};
  };
  // Appends a step of `kind` that takes a size alone, checked under the step's `name`.
  Transform& add_sized(Kind kind, Size size, const char* name);

  std::vector<Step> steps_;
  bool normalize_ = false;
  std::array<double, 3> mean_{0, 0, 0};
  std::array<double, 3> std_{1, 1, 1};
  std::optional<Erasing> erasing_;
};

}  // namespace xfer::transforms
