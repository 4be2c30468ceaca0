// Parity with torchvision 0.14 on PIL images (Pillow 9.4): the references are torchvision's own
// outputs, written by tools/make_transform_references.py for closed-form test images.
//
// Tolerances: every case is exact. Crop, flip, pad, ToTensor and Normalize must be by definition;
// resize is too because functional.cpp reimplements Pillow's antialiased bilinear resampling
// (same coefficients, same 22-bit fixed point, same pass order), and ColorJitter's enhancements
// reimplement Pillow's Image.blend in C float; the augmentation operations reimplement Pillow's
// nearest-neighbour affine, its 3 × 3 smoothing filter, its HSV conversions and ImageOps' tables.
// kResizeTolerance is the allowance written next to the resize cases; measured maximum
// difference: 0.

#include "references.h"

#include "xfer/transforms/auto_augment.h"
#include "xfer/transforms/functional.h"
#include "xfer/transforms/transform.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <sstream>

namespace xfer::transforms {
namespace {

using testing::images_match;
using testing::load_references;
using testing::Reference;

// Largest allowed difference of a resized byte from Pillow's, in levels of 255.
constexpr int kResizeTolerance = 0;

class TransformParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    references_ = new std::map<std::string, Reference>(load_references());
  }
  static void TearDownTestSuite() {
    delete references_;
    references_ = nullptr;
  }
  static const Reference& reference(const std::string& name) {
    const auto found = references_->find(name);
    if (found == references_->end()) {
      ADD_FAILURE() << "no case '" << name << "' in references.txt";
      static const Reference missing;
      return missing;
    }
    return found->second;
  }
  static std::map<std::string, Reference>* references_;
};

std::map<std::string, Reference>* TransformParity::references_ = nullptr;

TEST_F(TransformParity, ReferencesFileHasEveryCase) { EXPECT_EQ(references_->size(), 141u); }

TEST_F(TransformParity, ResizeShorterSideMatchesPillow) {
  const Image pattern = testing::pattern_image();
  EXPECT_TRUE(images_match(resize(pattern, 10), reference("resize_shorter_10"), kResizeTolerance));
  EXPECT_TRUE(images_match(resize(pattern, 7), reference("resize_shorter_7"), kResizeTolerance));
  EXPECT_TRUE(images_match(resize(pattern, 40), reference("resize_shorter_40"), kResizeTolerance));
  EXPECT_TRUE(images_match(resize(testing::grey_image(), 8), reference("resize_grey_shorter_8"),
                           kResizeTolerance));
}

TEST_F(TransformParity, ResizeToHeightAndWidthMatchesPillow) {
  const Image pattern = testing::pattern_image();
  EXPECT_TRUE(
      images_match(resize(pattern, Size{17, 45}), reference("resize_17x45"), kResizeTolerance));
  // Only the width changes: Pillow skips the vertical pass.
  EXPECT_TRUE(
      images_match(resize(pattern, Size{23, 12}), reference("resize_23x12"), kResizeTolerance));
}

// Pillow's bicubic filter (EfficientNet's weights are evaluated with it): down, where it is
// widened by the scale, and up, where its negative lobes overshoot and the bytes clip.
TEST_F(TransformParity, BicubicResizeMatchesPillow) {
  const Image pattern = testing::pattern_image();
  constexpr auto bicubic = Interpolation::kBicubic;
  EXPECT_TRUE(images_match(resize(pattern, 10, bicubic), reference("resize_bicubic_shorter_10"),
                           kResizeTolerance));
  EXPECT_TRUE(images_match(resize(pattern, 40, bicubic), reference("resize_bicubic_shorter_40"),
                           kResizeTolerance));
  EXPECT_TRUE(images_match(resize(pattern, Size{17, 45}, bicubic),
                           reference("resize_bicubic_17x45"), kResizeTolerance));
  // The spec's spelling of it, and bilinear's (the default).
  EXPECT_TRUE(images_match(Transform::parse("resize=10:bicubic").augment(pattern, 0),
                           reference("resize_bicubic_shorter_10"), kResizeTolerance));
  EXPECT_TRUE(images_match(Transform::parse("resize=10:bilinear").augment(pattern, 0),
                           reference("resize_shorter_10"), kResizeTolerance));
}

TEST_F(TransformParity, CropsAreExact) {
  const Image pattern = testing::pattern_image();
  EXPECT_TRUE(images_match(center_crop(pattern, {20, 30}), reference("center_crop_20x30"), 0));
  // (23 - 22) / 2 = 0.5 rounds to 0 and (31 - 28) / 2 = 1.5 rounds to 2: Python rounds half to
  // even.
  EXPECT_TRUE(images_match(center_crop(pattern, {22, 30}), reference("center_crop_22x30"), 0));
  EXPECT_TRUE(images_match(center_crop(pattern, {20, 28}), reference("center_crop_20x28"), 0));
  // Larger than the image: padded with zeros first.
  EXPECT_TRUE(images_match(center_crop(pattern, {28, 36}), reference("center_crop_28x36"), 0));
  EXPECT_TRUE(images_match(crop(pattern, {3, 5, 10, 12}), reference("crop_3_5_10_12"), 0));
  EXPECT_TRUE(images_match(resize(crop(pattern, {2, 4, 18, 21}), Size{9, 11}),
                           reference("resized_crop_2_4_18_21_to_9x11"), kResizeTolerance));
}

TEST_F(TransformParity, FlipAndPadAreExact) {
  const Image pattern = testing::pattern_image();
  EXPECT_TRUE(images_match(hflip(pattern), reference("hflip"), 0));
  EXPECT_TRUE(images_match(pad(pattern, 3, 3, 3, 3), reference("pad_3"), 0));
  // FiveCrop's crops, in torchvision's order, stacked top to bottom.
  EXPECT_TRUE(images_match(Transform().five_crop({10, 12}).augment(pattern, 0),
                           reference("five_crop_10x12_stacked"), 0));
}

TEST_F(TransformParity, ColorJitterEnhancementsAreExact) {
  const Image pattern = testing::pattern_image();
  EXPECT_TRUE(images_match(adjust_brightness(pattern, 0.6), reference("brightness_0.6"), 0));
  EXPECT_TRUE(images_match(adjust_brightness(pattern, 1.4), reference("brightness_1.4"), 0));
  EXPECT_TRUE(images_match(adjust_contrast(pattern, 0.5), reference("contrast_0.5"), 0));
  EXPECT_TRUE(images_match(adjust_contrast(pattern, 1.7), reference("contrast_1.7"), 0));
  EXPECT_TRUE(images_match(adjust_saturation(pattern, 0.3), reference("saturation_0.3"), 0));
  EXPECT_TRUE(images_match(adjust_saturation(pattern, 1.8), reference("saturation_1.8"), 0));
}

TEST_F(TransformParity, GreyConversionsAreExact) {
  EXPECT_TRUE(images_match(Transform::parse("grayscale").augment(testing::pattern_image(), 0),
                           reference("grayscale_3"), 0));
  EXPECT_TRUE(images_match(to_rgb(testing::grey_image()), reference("grey_to_rgb"), 0));
}

// The test image the script calls `name`.
Image named_image(const std::string& name) {
  if (name == "pattern") return testing::pattern_image();
  if (name == "grey") return testing::grey_image();
  if (name == "ramp") return testing::ramp_image();
  if (name == "dim") return testing::dim_image();
  ADD_FAILURE() << "no test image '" << name << "'";
  return {};
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

AugmentOp op_named(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(AugmentOp::kInvert); ++i) {
    if (op_name(static_cast<AugmentOp>(i)) == name) return static_cast<AugmentOp>(i);
  }
  ADD_FAILURE() << "no operation '" << name << "'";
  return AugmentOp::kIdentity;
}

// Every "op_NAME_MAGNITUDE_IMAGE" case: torchvision's _apply_op on a PIL image, so affine and
// rotate (Pillow's 16.16 fixed-point nearest sampling, the rotation matrix rounded to 15
// decimals, the quarter-turn fast paths), ImageFilter.SMOOTH, and the ImageOps tables.
TEST_F(TransformParity, AugmentationOperationsAreExact) {
  int cases = 0;
  for (const auto& [name, expected] : *references_) {
    if (name.rfind("op_", 0) != 0) continue;
    const auto parts = split(name, '_');
    ASSERT_EQ(parts.size(), 4u) << name;
    const Image out =
        apply_op(named_image(parts[3]), op_named(parts[1]), std::strtod(parts[2].c_str(), nullptr));
    EXPECT_TRUE(images_match(out, expected, 0)) << name;
    ++cases;
  }
  EXPECT_EQ(cases, 46);
}

TEST_F(TransformParity, HueIsExact) {
  int cases = 0;
  for (const auto& [name, expected] : *references_) {
    if (name.rfind("hue_", 0) != 0) continue;
    const auto parts = split(name, '_');
    ASSERT_EQ(parts.size(), 3u) << name;
    const Image out = adjust_hue(named_image(parts[2]), std::strtod(parts[1].c_str(), nullptr));
    EXPECT_TRUE(images_match(out, expected, 0)) << name;
    ++cases;
  }
  EXPECT_EQ(cases, 10);
  EXPECT_EQ(adjust_hue(testing::grey_image(), 0.3).pixels, testing::grey_image().pixels);
}

// Every "space_KIND_BINS[_HxW]_OP_SIGNED" case: the magnitudes of one operation of an
// augmentation space, float32 as torch.linspace and torchvision's posterize arithmetic give them.
TEST_F(TransformParity, AugmentationSpacesAreTorchvisions) {
  const std::vector<std::pair<std::string, AugmentSpace>> kinds{
      {"auto_augment", AugmentSpace::kAutoAugment},
      {"rand_augment", AugmentSpace::kRandAugment},
      {"trivial_augment", AugmentSpace::kTrivialAugmentWide}};
  int cases = 0;
  for (const auto& [name, expected] : *references_) {
    for (const auto& [kind, space] : kinds) {
      const std::string prefix = "space_" + kind + "_";
      if (name.rfind(prefix, 0) != 0) continue;
      const auto parts = split(name.substr(prefix.size()), '_');
      ASSERT_TRUE(parts.size() == 3 || parts.size() == 4) << name;
      Size size{1, 1};
      if (parts.size() == 4) {
        const auto x = parts[1].find('x');
        size = {std::stoll(parts[1].substr(0, x)), std::stoll(parts[1].substr(x + 1))};
      }
      const AugmentOp op = op_named(parts[parts.size() - 2]);
      const bool is_signed = parts.back() == "signed";
      const auto ops = augmentation_space(space, std::stoll(parts[0]), size);
      const auto found = std::find_if(ops.begin(), ops.end(),
                                      [op](const OpSpace& candidate) { return candidate.op == op; });
      ASSERT_NE(found, ops.end()) << name;
      EXPECT_EQ(found->is_signed, is_signed) << name;
      std::vector<float> values(found->magnitudes.begin(), found->magnitudes.end());
      EXPECT_TRUE(testing::tensors_match(values, 1, 1, static_cast<int64_t>(values.size()), expected))
          << name;
      ++cases;
    }
  }
  EXPECT_EQ(cases, 11 * 5);
}

std::vector<float> planar(const Transform& transform, const Image& image) {
  const Image out = transform.augment(image, 0);
  std::vector<float> values(static_cast<size_t>(3 * out.height * out.width));
  transform.write_tensor(out, values.data(), false, 0);
  return values;
}

TEST_F(TransformParity, ToTensorAndNormalizeAreBitExact) {
  const Image ramp = testing::ramp_image();
  EXPECT_TRUE(
      testing::tensors_match(planar(Transform(), ramp), 3, 16, 16, reference("to_tensor_ramp")));
  EXPECT_TRUE(testing::tensors_match(planar(Transform::parse("normalize=imagenet"), ramp), 3, 16,
                                     16, reference("normalize_imagenet_ramp")));
}

TEST_F(TransformParity, EvalPipelineIsBitExact) {
  const Transform eval = Transform::eval({14, 16, kImagenetMean, kImagenetStd});
  EXPECT_TRUE(testing::tensors_match(planar(eval, testing::pattern_image()), 3, 14, 14,
                                     reference("eval_resize_16_center_crop_14_imagenet")));
  const at::Tensor tensor = eval(testing::pattern_image(), 0);
  const std::vector<float> values(tensor.data_ptr<float>(),
                                  tensor.data_ptr<float>() + tensor.numel());
  EXPECT_TRUE(testing::tensors_match(values, 3, 14, 14,
                                     reference("eval_resize_16_center_crop_14_imagenet")));
}

TEST_F(TransformParity, BicubicEvalPipelineIsBitExact) {
  EvalParams params{14, 16, kImagenetMean, kImagenetStd};
  params.interpolation = Interpolation::kBicubic;
  EXPECT_TRUE(testing::tensors_match(planar(Transform::eval(params), testing::pattern_image()), 3,
                                     14, 14,
                                     reference("eval_resize_16_bicubic_center_crop_14_imagenet")));
}

}  // namespace
}  // namespace xfer::transforms
