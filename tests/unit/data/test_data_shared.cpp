// Real image folders from ../shared: hymenoptera with its bad GIF, and the extracted CIFAR-10
// JPEGs (labelled slow: it checks 60,000 files).

#include "fixtures.h"
#include "support/paths.h"
#include "xfer/data/spec.h"
#include "xfer/data/splits.h"
#include "xfer/data/summary.h"
#include "xfer/transforms/transform.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

namespace xfer::data {
namespace {

TEST(Hymenoptera, CountsAndTheRealBadGif) {
  const auto root = testing::shared_dir() / "data" / "hymenoptera";
  XFER_REQUIRE_SHARED(root);
  const auto spec = parse_dataset_spec("folder:" + root.string());
  EXPECT_THROW_WITH(load_splits(spec), FormatError, "train/ants/imageNotFound.gif: not an image");
  const DatasetSummary summary = summarize(spec);
  ASSERT_EQ(summary.bad_files.size(), 1u);
  EXPECT_EQ(summary.bad_files[0].file, root / "train" / "ants" / "imageNotFound.gif");
  ASSERT_EQ(summary.classes.size(), 2u);
  EXPECT_EQ(summary.classes[0].name, "ants");
  // 123 usable ants (124 files less the GIF) and 121 bees in train/, 70 and 83 in val/ (the test).
  EXPECT_EQ(summary.classes[0].train + summary.classes[0].val, 123);
  EXPECT_EQ(summary.classes[0].val, 12);
  EXPECT_EQ(summary.classes[1].train + summary.classes[1].val, 121);
  EXPECT_EQ(summary.classes[0].test, 70);
  EXPECT_EQ(summary.classes[1].test, 83);
}

// Decode (OpenCV against PIL, the same libjpeg) and the whole eval transform against torchvision,
// on a real photo: every 101st value of the [3,224,224] result, bit for bit.
TEST(Hymenoptera, EvalTransformOfARealJpegMatchesTorchvision) {
  const auto root = testing::shared_dir() / "data" / "hymenoptera";
  XFER_REQUIRE_SHARED(root);
  std::ifstream in(testing::fixtures_dir() / "transforms" / "hymenoptera_eval.txt");
  ASSERT_TRUE(in.good());
  std::string line, photo, data;
  size_t stride = 0;
  std::getline(in, line);  // @generated header
  in >> line >> photo >> line >> stride;
  std::getline(in, line);
  std::getline(in, line);  // f32 3 224 224
  std::getline(in, data);
  const at::Tensor tensor =
      transforms::Transform::eval({})(transforms::decode_image(root / photo), 0).contiguous();
  ASSERT_EQ(tensor.sizes(), (c10::IntArrayRef{3, 224, 224}));
  const float* values = tensor.data_ptr<float>();
  size_t compared = 0;
  for (size_t k = 0; (k + 1) * 8 <= data.size(); ++k, ++compared) {
    const auto bits = static_cast<uint32_t>(std::stoul(data.substr(k * 8, 8), nullptr, 16));
    float expected = 0;
    std::memcpy(&expected, &bits, sizeof expected);
    const size_t flat = k * stride;
    ASSERT_EQ(values[flat], expected) << "value not match at c:h:w " << flat / (224 * 224) << ":"
                                      << flat / 224 % 224 << ":" << flat % 224;
  }
  EXPECT_EQ(compared, 1491u);
}

}  // namespace
}  // namespace xfer::data
