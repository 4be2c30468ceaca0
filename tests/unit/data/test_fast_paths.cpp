// The loader's fast paths give the bytes of the plain steps: resize_region against
// crop(resize(...)), and a Resize + CenterCrop transform against both steps applied in turn.

#include "fixtures.h"
#include "xfer/core/error.h"
#include "xfer/transforms/functional.h"
#include "xfer/transforms/transform.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace T = xfer::transforms;

T::Image pattern(int64_t height, int64_t width, int64_t channels) {
  T::Image image = T::Image::filled(height, width, channels);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    image.pixels[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  }
  return image;
}

TEST(FastPaths, ResizeRegionIsTheCropOfTheResize) {
  const std::vector<std::pair<T::Size, T::Size>> cases{
      {{375, 500}, {224, 298}},  // down both ways
      {{32, 32}, {224, 224}},    // up both ways
      {{40, 30}, {40, 17}},      // width only
      {{40, 30}, {13, 30}},      // height only
      {{17, 23}, {17, 23}},      // unchanged
      {{500, 333}, {336, 224}},  // portrait
  };
  for (const int64_t channels : {1, 3}) {
    for (const auto& [in, out] : cases) {
      const auto image = pattern(in.height, in.width, channels);
      const auto full = T::resize(image, out);
      for (const T::Box& box :
           {T::Box{0, 0, out.height, out.width},
            T::centered_box(out, {out.height / 2, out.width / 3 + 1}),
            T::Box{out.height - 1, out.width - 1, 1, 1}, T::Box{0, 3, out.height, out.width - 3}}) {
        const auto got = T::resize_region(image, out, box);
        const auto expected = T::crop(full, box);
        EXPECT_EQ(got.height, expected.height);
        EXPECT_EQ(got.width, expected.width);
        EXPECT_EQ(got.pixels, expected.pixels)
            << in.height << "x" << in.width << " -> " << out.height << "x" << out.width << " box "
            << box.top << "," << box.left << " " << box.height << "x" << box.width << " channels "
            << channels;
      }
    }
  }
  const auto image = pattern(10, 10, 3);
  EXPECT_THROW_WITH(T::resize_region(image, {8, 8}, {4, 4, 5, 4}), xfer::InvalidArgument,
                    "expected a region inside the 8x8 output, got 5x4 at (4, 4)");
}

TEST(FastPaths, ResizeThenCenterCropTransformEqualsBothStepsInTurn) {
  for (const std::string spec : {"resize=224,center_crop=224", "resize=256,center_crop=224",
                                 "resize=100x80,center_crop=50", "resize=20,center_crop=30"}) {
    const auto transform = T::Transform::parse(spec);
    for (const auto& [h, w] :
         {std::pair<int64_t, int64_t>{375, 500}, {333, 500}, {32, 32}, {61, 47}}) {
      const auto image = pattern(h, w, 3);
      T::Image expected;
      const auto comma = spec.find(',');
      expected = T::Transform::parse(spec.substr(0, comma)).augment(image, 0);
      expected = T::Transform::parse(spec.substr(comma + 1)).augment(expected, 0);
      EXPECT_EQ(transform.augment(image, 0).pixels, expected.pixels)
          << spec << " " << h << "x" << w;
    }
  }
}

}  // namespace
