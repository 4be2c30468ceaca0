// `xfer maps` as a user meets it: the article's two layers of resnet18, drawn from a weight file,
// show exactly the activations the library computes; googlenet layers work the same way; the
// errors a user can cause are clear. (mobilenet_v2 with real weights: test_maps_shared.cpp.)

#include "pictures.h"
#include "support/fill.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/models/registry.h"
#include "xfer/viz/feature_maps.h"
#include "xfer/weights/load.h"
#include "xfer/weights/safetensors.h"

#include <gtest/gtest.h>
#include <torch/utils.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace xfer::testing {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// `model_name` filled with the closed-form weights of tests/support/fill.h, in eval mode.
models::Classifier filled_model(const std::string& model_name) {
  const auto model = models::create_model(model_name);
  fill_closed_form(*model);
  model->eval();
  return model;
}

// `model`'s weights saved as dir/<model_name>.safetensors.
std::filesystem::path save_weights(const models::Classifier& model, const std::string& model_name,
                                   const std::filesystem::path& dir) {
  const auto file = dir / (model_name + ".safetensors");
  weights::write_safetensors(file, weights::state_dict_of(*model));
  return file;
}

std::filesystem::path write_photo(const std::filesystem::path& file) {
  const auto photo = test_photo(300, 260);
  cv::Mat rgb(300, 260, CV_8UC3, const_cast<uint8_t*>(photo.pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  EXPECT_TRUE(cv::imwrite(file.string(), bgr));
  return file;
}

TEST(MapsCli, DrawsTheArticlesResnet18LayersFromAWeightFile) {
  const auto dir = temp_dir("maps_resnet18");
  const auto model = filled_model("resnet18");
  const auto weights = save_weights(model, "resnet18", dir);
  const auto photo = write_photo(dir / "photo.png");
  const auto out = dir / "maps";
  const auto result = run_xfer({"maps", "--model", "resnet18", "--weights", weights.string(),
                                "--image", photo.string(), "--out", out.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "wrote " + (out / "layer1.0.conv1.png").string() + "\n"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "wrote " + (out / "layer4.1.conv2.png").string() + "\n"))
      << result.out;

  // The same model computed here: each PNG's six tiles are channels 0..5 of its layer.
  const auto prepared =
      viz::prepare_image(transforms::decode_image(photo), models::find_model("resnet18").input);
  torch::NoGradGuard no_grad;
  const auto outputs =
      model->forward_with(prepared.tensor.unsqueeze(0), {"layer1.0.conv1", "layer4.1.conv2"})
          .second;
  for (const auto& layer : {"layer1.0.conv1", "layer4.1.conv2"}) {
    EXPECT_TRUE(picture_shows(out / (std::string(layer) + ".png"), outputs.at(layer)[0],
                              {0, 1, 2, 3, 4, 5}));
  }
}

TEST(MapsCli, DrawsAnyGooglenetLayer) {
  const auto dir = temp_dir("maps_googlenet");
  const auto model = filled_model("googlenet");
  const auto weights = save_weights(model, "googlenet", dir);
  const auto photo = write_photo(dir / "photo.png");
  const auto result =
      run_xfer({"maps", "--model", "googlenet", "--weights", weights.string(), "--image",
                photo.string(), "--layers", "conv1.conv,inception4a,inception5b.branch3.1.conv",
                "--channels", "3", "--out", (dir / "maps").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto prepared =
      viz::prepare_image(transforms::decode_image(photo), models::find_model("googlenet").input);
  const auto outputs = viz::layer_outputs(
      *model, prepared.tensor, {"conv1.conv", "inception4a", "inception5b.branch3.1.conv"});
  for (const auto& [layer, map] : outputs) {
    EXPECT_TRUE(picture_shows(dir / "maps" / (layer + ".png"), map, {0, 1, 2})) << layer;
  }
}

TEST(MapsCli, NamesTheClosestLayersToAnUnknownOne) {
  const auto dir = temp_dir("maps_unknown");
  const auto weights = save_weights(filled_model("resnet20"), "resnet20", dir);
  const auto photo = write_photo(dir / "photo.png");
  const auto result =
      run_xfer({"maps", "--model", "resnet20", "--weights", weights.string(), "--image",
                photo.string(), "--layers", "layer1.0.conv9", "--out", (dir / "maps").string()});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_TRUE(contains(result.err, "unknown module path 'layer1.0.conv9'")) << result.err;
  EXPECT_TRUE(contains(result.err, "'layer1.0.conv1'")) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "maps"));
}

TEST(MapsCli, RefusesABadChannelCountAndAMissingImage) {
  auto result = run_xfer({"maps", "--model", "resnet18", "--weights", "imagenet", "--image",
                          "x.png", "--channels", "top:0"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "--channels: expected N (1 to 512), top or top:N, got 'top:0'"))
      << result.err;
  const auto missing = temp_dir("maps_missing") / "absent.jpg";
  result = run_xfer(
      {"maps", "--model", "resnet18", "--weights", "imagenet", "--image", missing.string()});
  EXPECT_EQ(result.exit_code, 4) << result.err;
  EXPECT_TRUE(contains(result.err, "absent.jpg")) << result.err;
  result = run_xfer({"maps", "--model", "resnet18", "--weights", "imagenet"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "--image")) << result.err;
}

}  // namespace
}  // namespace xfer::testing
