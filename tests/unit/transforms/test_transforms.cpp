// Behaviour of the transforms beyond parity: spec parsing and its errors, torchvision's size
// arithmetic, the random transforms' bounds and determinism, the random generator.

#include "xfer/core/error.h"
#include "xfer/transforms/auto_augment.h"
#include "xfer/transforms/functional.h"
#include "xfer/transforms/image.h"
#include "xfer/transforms/random.h"
#include "xfer/transforms/transform.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace xfer::transforms {
namespace {

#define EXPECT_THROW_WITH(statement, type, substring)                                  \
  do {                                                                                 \
    try {                                                                              \
      statement;                                                                       \
      ADD_FAILURE() << "expected " #type " containing '" << (substring) << "'";        \
    } catch (const type& e) {                                                          \
      EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what(); \
    }                                                                                  \
  } while (0)

Image gradient(int64_t height, int64_t width) {
  Image image = Image::filled(height, width, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7);
  return image;
}

TEST(ResizedSize, ShorterSideAsTorchvision) {
  EXPECT_EQ(resized_size({375, 500}, 256), (Size{256, 341}));  // int(256 * 500 / 375) = 341
  EXPECT_EQ(resized_size({500, 375}, 256), (Size{341, 256}));
  EXPECT_EQ(resized_size({32, 32}, 224), (Size{224, 224}));
  EXPECT_EQ(resized_size({3, 10}, 7), (Size{7, 23}));  // 23.33 truncated
  EXPECT_THROW_WITH(resized_size({10, 10}, 0), InvalidArgument, "shorter side >= 1, got 0");
}

TEST(Functional, ErrorsNameWhatWasExpected) {
  const Image image = gradient(4, 4);
  EXPECT_THROW_WITH(resize(Image{}, Size{2, 2}), InvalidArgument, "non-empty image, got 0x0");
  EXPECT_THROW_WITH(resize(image, Size{0, 3}), InvalidArgument, "at least 1x1, got 0x3");
  EXPECT_THROW_WITH(crop(image, {0, 0, 0, 2}), InvalidArgument, "box of at least 1x1, got 0x2");
  EXPECT_THROW_WITH(center_crop(image, {2, -1}), InvalidArgument, "got 2x-1");
  EXPECT_THROW_WITH(pad(image, 1, -1, 0, 0), InvalidArgument, "top -1");
  EXPECT_THROW_WITH(adjust_brightness(image, -0.5), InvalidArgument, "factor >= 0");
  EXPECT_THROW_WITH(Image::filled(2, 2, 4), InvalidArgument, "1 or 3 channels, got 4");
}

TEST(Functional, CropOutsideTheImageIsZero) {
  const Image image = Image::filled(2, 2, 1, 9);
  const Image out = crop(image, {-1, -1, 3, 3});
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{0, 0, 0, 0, 9, 9, 0, 9, 9}));
}

TEST(Functional, ResizeAveragesWhenShrinking) {
  // Antialiasing: a 2:1 shrink of alternating 0/200 columns is their mean, not a sample of one.
  Image stripes = Image::filled(4, 8, 1);
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 8; ++x)
      stripes.pixels[static_cast<size_t>(y * 8 + x)] = x % 2 ? 200 : 0;
  const Image out = resize(stripes, Size{4, 4});
  // Inner columns see two whole pairs; the border ones a window cut by the edge, as in Pillow.
  for (int64_t y = 0; y < 4; ++y) {
    EXPECT_EQ(out.at(y, 1, 0), 100);
    EXPECT_EQ(out.at(y, 2, 0), 100);
  }
}

TEST(Rng, SameSeedSameStreamAndBounds) {
  Rng a(42);
  Rng b(42);
  Rng c(43);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(a.next(), c.next());
  Rng r(7);
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const int64_t v = r.integer(3, 9);
    ASSERT_GE(v, 3);
    ASSERT_LE(v, 9);
    seen.insert(v);
    const double u = r.uniform(0.25, 0.5);
    ASSERT_GE(u, 0.25);
    ASSERT_LT(u, 0.5);
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_NE(sample_seed(1, 0, 5), sample_seed(1, 1, 5));
  EXPECT_NE(sample_seed(1, 0, 5), sample_seed(1, 0, 6));
  EXPECT_EQ(sample_seed(1, 2, 5), sample_seed(1, 2, 5));
}

TEST(RandomResizedCrop, BoxesStayInsideWithinScaleAndRatio) {
  Rng rng(3);
  const Size image{120, 200};
  for (int i = 0; i < 500; ++i) {
    const Box box = random_resized_crop_box(image, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng);
    ASSERT_GE(box.top, 0);
    ASSERT_GE(box.left, 0);
    ASSERT_LE(box.top + box.height, image.height);
    ASSERT_LE(box.left + box.width, image.width);
    const double area = static_cast<double>(box.height * box.width) / (120.0 * 200.0);
    // Rounding of w and h moves the area a little beyond the sampled fraction.
    ASSERT_GT(area, 0.06);
    const double ratio = static_cast<double>(box.width) / static_cast<double>(box.height);
    ASSERT_GT(ratio, 0.7);
    ASSERT_LT(ratio, 1.4);
  }
}

TEST(RandomResizedCrop, FallsBackToTheCentredBoxOfTheClosestRatio) {
  Rng rng(0);
  // A 1x100 strip: no try fits a ratio in [3/4, 4/3], so the fallback takes h = 1, w = round(4/3).
  const Box wide = random_resized_crop_box({1, 100}, 0.5, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng);
  EXPECT_EQ(wide, (Box{0, 49, 1, 1}));
  const Box tall = random_resized_crop_box({100, 2}, 0.9, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng);
  EXPECT_EQ(tall, (Box{48, 0, 3, 2}));  // w = 2, h = round(2 / 0.75) = 3, top = 97 // 2
  EXPECT_THROW_WITH(random_resized_crop_box({10, 10}, 0.5, 0.2, 0.75, 1.3, rng), InvalidArgument,
                    "scale range 0 < lo <= hi, got 0.5-0.2");
}

TEST(TransformSpec, ParsesAndPrintsCanonically) {
  const Transform t = Transform::parse("resize=256,center_crop=224,normalize=imagenet");
  EXPECT_FALSE(t.is_random());
  ASSERT_TRUE(t.output_size().has_value());
  EXPECT_EQ(*t.output_size(), (Size{224, 224}));
  EXPECT_EQ(t.spec(), "resize=256,center_crop=224,normalize=0.485:0.456:0.406:0.229:0.224:0.225");
  EXPECT_EQ(Transform::parse(t.spec()).spec(), t.spec());
  EXPECT_EQ(Transform::eval({}).spec(), t.spec());

  const Transform aug = Transform::parse(
      "random_resized_crop=32:0.5-1:0.9-1.1,hflip,color_jitter=0.4:0.3:0.2:0.1,random_crop=28:2,"
      "grayscale,auto_augment=svhn,rand_augment=1:5:11,trivial_augment,normalize=half,"
      "random_erasing=0.25");
  EXPECT_TRUE(aug.is_random());
  EXPECT_EQ(*aug.output_size(), (Size{28, 28}));
  EXPECT_EQ(Transform::parse(aug.spec()).spec(), aug.spec());
  EXPECT_FALSE(Transform::parse("resize=20").output_size().has_value());
  EXPECT_EQ(*Transform::parse("resize=20x30").output_size(), (Size{20, 30}));
  EXPECT_EQ(Transform::parse("").spec(), "");
  EXPECT_TRUE(Transform::train({}).is_random());
  EXPECT_EQ(*Transform::parse("resize=40,five_crop=32").output_size(), (Size{160, 32}));
  EXPECT_EQ(Transform::parse("five_crop=8x6").spec(), "five_crop=8x6");
  EXPECT_EQ(Transform::parse("rand_augment,random_erasing").spec(),
            "rand_augment=2:9:31,random_erasing=0.5:0.02-0.33:0.3-3.3");
  EXPECT_TRUE(Transform::parse("random_erasing").is_random());
  EXPECT_FALSE(Transform::parse("random_erasing=0").is_random());
}

TEST(TransformSpec, BadSpecsSayWhatWasExpected) {
  EXPECT_THROW_WITH(Transform::parse("resize=256,blur=3"), InvalidArgument,
                    "unknown step 'blur' (expected one of resize, center_crop");
  EXPECT_THROW_WITH(Transform::parse("resize=abc"), InvalidArgument,
                    "transform spec 'resize=abc': expected resize=S[:bilinear|bicubic] or "
                    "resize=HxW[:bilinear|bicubic], got 'abc'");
  EXPECT_THROW_WITH(Transform::parse("resize=256:lanczos"), InvalidArgument,
                    "transform spec 'resize=256:lanczos': expected resize=S[:bilinear|bicubic] "
                    "or resize=HxW[:bilinear|bicubic], got 'lanczos'");
  EXPECT_THROW_WITH(Transform::parse("resize"), InvalidArgument, "expected resize=S");
  EXPECT_THROW_WITH(Transform::parse("center_crop=0"), InvalidArgument, "at least 1x1, got 0x0");
  EXPECT_THROW_WITH(Transform::parse("random_resized_crop=32:0.5"), InvalidArgument,
                    "SCALE_LO-SCALE_HI");
  EXPECT_THROW_WITH(Transform::parse("hflip=1.5"), InvalidArgument,
                    "probability in [0, 1], got 1.5");
  EXPECT_THROW_WITH(
      Transform::parse("color_jitter=-1"), InvalidArgument,
      "color_jitter: expected brightness, contrast and saturation >= 0 and a hue in [0, 0.5], "
      "got -1, 0, 0, 0");
  EXPECT_THROW_WITH(Transform::parse("color_jitter=0:0:0:0.6"), InvalidArgument,
                    "a hue in [0, 0.5], got 0, 0, 0, 0.6");
  EXPECT_THROW_WITH(Transform::parse("normalize=imagenet,resize=3"), InvalidArgument,
                    "normalize to be the last image step (only random_erasing may follow it)");
  EXPECT_THROW_WITH(Transform::parse("random_erasing,hflip"), InvalidArgument,
                    "random_erasing to be the last step, got 'hflip' after it");
  EXPECT_THROW_WITH(Transform::parse("random_erasing=0.5:0.3-0.1"), InvalidArgument,
                    "random_erasing: expected a scale range 0 < lo <= hi, got 0.3-0.1");
  EXPECT_THROW_WITH(Transform::parse("auto_augment=places"), InvalidArgument,
                    "expected auto_augment or auto_augment=imagenet, cifar10 or svhn, got 'places'");
  EXPECT_THROW_WITH(Transform::parse("rand_augment=2:31"), InvalidArgument,
                    "a magnitude in [0, bins), got 2, 31, 31");
  EXPECT_THROW_WITH(Transform::parse("trivial_augment=1"), InvalidArgument,
                    "trivial_augment: expected bins >= 2, got 1");
  EXPECT_THROW_WITH(Transform::parse("five_crop=40").augment(gradient(30, 50), 0),
                    InvalidArgument, "five_crop: expected an image of at least 40, got 30x50");
  EXPECT_THROW_WITH(
      Transform::parse("normalize=foo"), InvalidArgument,
      "expected normalize=imagenet, cifar10, half or M:M:M:S:S:S, got 'normalize=foo'");
  EXPECT_THROW_WITH(Transform::parse("normalize=0:0:0:1:0:1"), InvalidArgument, "every std > 0");
  EXPECT_THROW_WITH(Transform::parse("random_crop=8:-1"), InvalidArgument, "got '-1'");
}

TEST(Transform, RandomStepsFollowTheSeedOnly) {
  const Image image = gradient(40, 50);
  const Transform aug = Transform::parse("random_resized_crop=24,hflip,color_jitter=0.5:0.5:0.5");
  const Image a = aug.augment(image, 11);
  EXPECT_EQ(a.pixels, aug.augment(image, 11).pixels);
  int different = 0;
  for (uint64_t seed = 12; seed < 20; ++seed)
    different += aug.augment(image, seed).pixels != a.pixels;
  EXPECT_GE(different, 7);
  EXPECT_EQ(a.height, 24);
  EXPECT_EQ(a.width, 24);
}

TEST(Transform, FlipProbabilityIsHonoured) {
  const Image image = gradient(2, 3);
  const Transform always = Transform().horizontal_flip(1.0);
  const Transform never = Transform().horizontal_flip(0.0);
  EXPECT_EQ(always.augment(image, 5).pixels, hflip(image).pixels);
  EXPECT_EQ(never.augment(image, 5).pixels, image.pixels);
  const Transform half = Transform().horizontal_flip(0.5);
  int flipped = 0;
  for (uint64_t seed = 0; seed < 400; ++seed)
    flipped += half.augment(image, seed).pixels != image.pixels;
  EXPECT_GT(flipped, 150);
  EXPECT_LT(flipped, 250);
}

TEST(Transform, RandomCropWithPaddingCoversEveryOffset) {
  Image image = Image::filled(4, 4, 1, 50);
  const Transform t = Transform().random_crop({4, 4}, 1);
  std::set<std::vector<uint8_t>> outputs;
  for (uint64_t seed = 0; seed < 300; ++seed) outputs.insert(t.augment(image, seed).pixels);
  EXPECT_EQ(outputs.size(), 9u);  // 3 × 3 placements in the 6x6 padded image
  EXPECT_THROW_WITH(Transform().random_crop({8, 8}).augment(image, 0), InvalidArgument,
                    "at least 8x8 after padding, got 4x4");
}

TEST(Transform, TensorIsPlanarOrChannelsLastAndGreyBecomesRgb) {
  Image grey = Image::filled(1, 2, 1);
  grey.pixels = {0, 255};
  const at::Tensor t = Transform()(grey, 0);
  ASSERT_EQ(t.sizes(), (c10::IntArrayRef{3, 1, 2}));
  EXPECT_EQ(t[0][0][1].item<float>(), 1.0f);
  EXPECT_EQ(t[2][0][0].item<float>(), 0.0f);
  Image rgb = Image::filled(1, 2, 3);
  rgb.pixels = {1, 2, 3, 4, 5, 6};
  std::vector<float> hwc(6);
  Transform().write_tensor(rgb, hwc.data(), true, 0);
  EXPECT_EQ(hwc[4], 5.0f / 255.0f);
  std::vector<float> chw(6);
  Transform().write_tensor(rgb, chw.data(), false, 0);
  EXPECT_EQ(chw[1], 4.0f / 255.0f);
  EXPECT_EQ(chw[4], 3.0f / 255.0f);
}

// Every image one application of an operation of `space` (at bin `bin`, or at any bin when
// bin < 0) can give, each sign of a signed one.
std::set<std::vector<uint8_t>> one_op_outcomes(const Image& image, AugmentSpace space,
                                               int64_t bins, int64_t bin) {
  std::set<std::vector<uint8_t>> outcomes;
  for (const auto& op : augmentation_space(space, bins, {image.height, image.width})) {
    std::vector<double> magnitudes = op.magnitudes;
    if (magnitudes.empty()) magnitudes = {0.0};
    if (bin >= 0 && !op.magnitudes.empty()) magnitudes = {op.magnitudes[static_cast<size_t>(bin)]};
    for (const double m : magnitudes) {
      outcomes.insert(apply_op(image, op.op, m).pixels);
      if (op.is_signed) outcomes.insert(apply_op(image, op.op, -m).pixels);
    }
  }
  return outcomes;
}

TEST(AutoAugmentPolicies, RandAugmentAppliesItsOperationsAtItsMagnitude) {
  const Image image = gradient(12, 14);
  const auto outcomes = one_op_outcomes(image, AugmentSpace::kRandAugment, 31, 9);
  const Transform one = Transform().rand_augment(1, 9, 31);
  std::set<std::vector<uint8_t>> seen;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    const Image out = one.augment(image, seed);
    EXPECT_EQ(outcomes.count(out.pixels), 1u) << "seed " << seed;
    seen.insert(out.pixels);
  }
  // 14 operations, 9 of them signed: most of the outcomes turn up.
  EXPECT_GE(seen.size(), 15u);
  // Two operations: each output is an outcome of one applied to an outcome of one.
  const Image twice = Transform().rand_augment(2, 9, 31).augment(image, 7);
  bool found = false;
  for (const auto& first : outcomes) {
    Image middle = image;
    middle.pixels = first;
    if (one_op_outcomes(middle, AugmentSpace::kRandAugment, 31, 9).count(twice.pixels) > 0) {
      found = true;
      break;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(Transform().rand_augment(0).augment(image, 3).pixels, image.pixels);
}

TEST(AutoAugmentPolicies, TrivialAugmentDrawsAnOperationAndABin) {
  const Image image = gradient(10, 13);
  const auto outcomes = one_op_outcomes(image, AugmentSpace::kTrivialAugmentWide, 31, -1);
  const Transform trivial = Transform().trivial_augment();
  std::set<std::vector<uint8_t>> seen;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    const Image out = trivial.augment(image, seed);
    EXPECT_EQ(outcomes.count(out.pixels), 1u) << "seed " << seed;
    seen.insert(out.pixels);
  }
  EXPECT_GE(seen.size(), 100u);  // magnitudes vary too, not only operations
}

TEST(AutoAugmentPolicies, AutoAugmentFollowsTheSeedAndKeepsTheSize) {
  const Image image = gradient(20, 17);
  for (const auto policy :
       {AutoAugmentPolicy::kImagenet, AutoAugmentPolicy::kCifar10, AutoAugmentPolicy::kSvhn}) {
    const Transform t = Transform().auto_augment(policy);
    EXPECT_TRUE(t.is_random());
    std::set<std::vector<uint8_t>> seen;
    for (uint64_t seed = 0; seed < 100; ++seed) {
      const Image out = t.augment(image, seed);
      EXPECT_EQ(out.pixels, t.augment(image, seed).pixels);
      EXPECT_EQ(out.height, 20);
      EXPECT_EQ(out.width, 17);
      seen.insert(out.pixels);
    }
    EXPECT_GE(seen.size(), 20u);
  }
  // Spaces: AutoAugment's has no Identity and ends with Invert; RandAugment's starts with
  // Identity and has no Invert, as torchvision's dictionaries.
  const auto aa = augmentation_space(AugmentSpace::kAutoAugment, 10, {20, 17});
  const auto ra = augmentation_space(AugmentSpace::kRandAugment, 31, {20, 17});
  const auto ta = augmentation_space(AugmentSpace::kTrivialAugmentWide, 31, {20, 17});
  ASSERT_EQ(aa.size(), 14u);
  ASSERT_EQ(ra.size(), 14u);
  ASSERT_EQ(ta.size(), 14u);
  EXPECT_EQ(op_name(aa.front().op), "ShearX");
  EXPECT_EQ(op_name(aa.back().op), "Invert");
  EXPECT_EQ(op_name(ra.front().op), "Identity");
  EXPECT_EQ(op_name(ra.back().op), "Equalize");
  EXPECT_THROW_WITH(augmentation_space(AugmentSpace::kRandAugment, 1, {20, 17}), InvalidArgument,
                    "at least 2 magnitude bins, got 1");
}

TEST(RandomErasing, ZeroesOneBoxOfTheNormalisedTensorWithinItsRanges) {
  const Image image = gradient(30, 40);
  const Transform plain = Transform().normalize(kImagenetMean, kImagenetStd);
  Transform erasing = plain;
  erasing.random_erasing(1.0, {0.1, 0.2}, {0.5, 2.0});
  std::vector<float> reference(3 * 30 * 40);
  plain.write_tensor(image, reference.data(), false, 0);
  int erased = 0;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<float> planar(reference.size());
    std::vector<float> interleaved(reference.size());
    erasing.write_tensor(image, planar.data(), false, seed);
    erasing.write_tensor(image, interleaved.data(), true, seed);
    // The zeroed pixels form a box of 10 % to 20 % of the image (give or take the rounding of
    // its sides), every channel zero there, everything else as without erasing.
    int64_t top = 30, left = 40, bottom = -1, right = -1, count = 0;
    for (int64_t y = 0; y < 30; ++y) {
      for (int64_t x = 0; x < 40; ++x) {
        const size_t i = static_cast<size_t>(y * 40 + x);
        const bool zero = planar[i] == 0.0f;
        for (size_t c = 0; c < 3; ++c) {
          const float expected = zero ? 0.0f : reference[c * 1200 + i];
          EXPECT_EQ(planar[c * 1200 + i], expected);
          EXPECT_EQ(interleaved[i * 3 + c], expected);
        }
        if (!zero) continue;
        ++count;
        top = std::min(top, y);
        bottom = std::max(bottom, y);
        left = std::min(left, x);
        right = std::max(right, x);
      }
    }
    if (count == 0) continue;
    ++erased;
    const int64_t h = bottom - top + 1;
    const int64_t w = right - left + 1;
    EXPECT_EQ(count, h * w) << "seed " << seed;
    EXPECT_GE(static_cast<double>(count), 0.1 * 1200 * 0.8);
    EXPECT_LE(static_cast<double>(count), 0.2 * 1200 * 1.2);
    EXPECT_GE(static_cast<double>(h) / static_cast<double>(w), 0.5 * 0.7);
    EXPECT_LE(static_cast<double>(h) / static_cast<double>(w), 2.0 * 1.4);
  }
  EXPECT_EQ(erased, 50);  // p = 1, and such boxes always fit
  Transform never = plain;
  never.random_erasing(0.0);
  std::vector<float> untouched(reference.size());
  never.write_tensor(image, untouched.data(), false, 4);
  EXPECT_EQ(untouched, reference);
  // A box must be strictly smaller than the image: none fits a 1-pixel-high image.
  Rng rng(1);
  EXPECT_FALSE(random_erasing_box({1, 40}, 0.1, 0.2, 0.5, 2.0, rng).has_value());
}

TEST(Image, DecodeReportsWhatTheBytesAre) {
  EXPECT_EQ(sniff_image_format({0xff, 0xd8, 0xff, 0xe0}), "JPEG");
  EXPECT_EQ(sniff_image_format({'G', 'I', 'F', '8', '9', 'a'}), "GIF");
  EXPECT_EQ(sniff_image_format({}), "empty file");
  EXPECT_EQ(sniff_image_format({'<', 'h', 't', 'm'}), "unknown format (starts with 3c 68 74 6d)");
  EXPECT_THROW_WITH(decode_image(std::vector<uint8_t>{'G', 'I', 'F', '8', '9', 'a'}, "x.gif"),
                    FormatError, "x.gif: GIF image, which xfer does not decode");
  EXPECT_THROW_WITH(decode_image(std::vector<uint8_t>{0xff, 0xd8, 0xff, 0xe0, 0, 0}, "y.jpg"),
                    FormatError, "y.jpg: JPEG data does not decode");
  EXPECT_THROW_WITH(decode_image(std::vector<uint8_t>{'<', 'h', 't', 'm', 'l'}, "z.png"),
                    FormatError, "z.png: not a JPEG, PNG, BMP, WebP or TIFF image");
  EXPECT_THROW_WITH(decode_image(std::filesystem::path("/nonexistent/a.jpg")), IoError,
                    "/nonexistent/a.jpg: cannot open");
}

}  // namespace
}  // namespace xfer::transforms
