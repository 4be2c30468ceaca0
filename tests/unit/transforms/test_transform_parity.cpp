// Parity with torchvision 0.14 on PIL images (Pillow 9.4): the references are torchvision's own
// outputs, written by tools/make_transform_references.py for closed-form test images.
//
// Tolerances: every case is exact. Crop, flip, pad, ToTensor and Normalize must be by definition;
// resize is too because functional.cpp reimplements Pillow's antialiased bilinear resampling
// (same coefficients, same 22-bit fixed point, same pass order), and ColorJitter's enhancements
// reimplement Pillow's Image.blend in C float. kResizeTolerance is the allowance written next to
// the resize cases; measured maximum difference: 0.

#include "references.h"

#include "xfer/transforms/functional.h"
#include "xfer/transforms/transform.h"

#include <gtest/gtest.h>

#include <functional>

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

TEST_F(TransformParity, ReferencesFileHasEveryCase) { EXPECT_EQ(references_->size(), 25u); }

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

std::vector<float> planar(const Transform& transform, const Image& image) {
  const Image out = transform.augment(image, 0);
  std::vector<float> values(static_cast<size_t>(3 * out.height * out.width));
  transform.write_tensor(out, values.data(), false);
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

}  // namespace
}  // namespace xfer::transforms
