// `xfer maps --channels top:4` on Coral's real MobileNetV2 (../shared): the PNGs show the four
// most active channels of the default layers, as the library computes them.

#include "pictures.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/viz/feature_maps.h"

#include <gtest/gtest.h>

namespace xfer::testing {
namespace {

TEST(MapsShared, DrawsTheMostActiveChannelsOfCoralsMobilenetV2) {
  const auto weights =
      shared_dir() / "weights" / "coral-mobilenet" / "mobilenet_v2_1.0_224_quant.tflite";
  XFER_REQUIRE_SHARED(weights);
  const auto photo = shared_dir() / "weights" / "coral-mobilenet" / "images" / "parrot.jpg";
  const auto out = temp_dir("maps_mobilenet_v2") / "maps";
  const auto result =
      run_xfer({"maps", "--model", "mobilenet_v2", "--weights", weights.string(), "--image",
                photo.string(), "--channels", "top:4", "--out", out.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;

  auto loaded = pretrained::load_pretrained("mobilenet_v2", weights.string());
  const auto prepared = viz::prepare_image(transforms::decode_image(photo), loaded.weights.input);
  const std::vector<std::string> layers = {"features.1.conv.0.0", "features.18.0"};
  const auto outputs = viz::layer_outputs(*loaded.model, prepared.tensor, layers);
  const auto top4 = viz::FeatureMapOptions().channels(4).choice(viz::ChannelChoice::kMostActive);
  for (const auto& layer : layers) {
    const auto channels = viz::choose_channels(outputs.at(layer), top4);
    EXPECT_NE(channels, (std::vector<int64_t>{0, 1, 2, 3})) << layer;  // not merely the first
    EXPECT_TRUE(picture_shows(out / (layer + ".png"), outputs.at(layer), channels));
  }
}

}  // namespace
}  // namespace xfer::testing
