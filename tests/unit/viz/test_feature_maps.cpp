// Feature maps: the PNG's tiles are the activations, channel by channel, each scaled to its own
// range through matplotlib's viridis; the default layers are the article's for resnet18 and
// sensible for the other families; the model's modes survive the pass.

#include "pictures.h"
#include "support/fill.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/models/registry.h"
#include "xfer/models/taps.h"
#include "xfer/transforms/functional.h"
#include "xfer/viz/colormap.h"
#include "xfer/viz/feature_maps.h"

#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>

namespace xfer::testing {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Viridis, IsMatplotlibsTable) {
  const auto& table = viz::viridis();
  EXPECT_EQ(table[0], (viz::Rgb{68, 1, 84}));
  EXPECT_EQ(table[128], (viz::Rgb{32, 144, 140}));
  EXPECT_EQ(table[255], (viz::Rgb{253, 231, 36}));
  EXPECT_EQ(viz::viridis_index(0.0), 0);
  EXPECT_EQ(viz::viridis_index(0.5), 128);
  EXPECT_EQ(viz::viridis_index(1.0), 255);
  EXPECT_EQ(viz::viridis_index(1.5), 255);
  EXPECT_EQ(viz::viridis_index(-0.1), 0);
  EXPECT_EQ(viz::viridis_index(std::nan("")), 0);
}

TEST(FeatureMap, TilesAreTheNormalisedActivationsInViridis) {
  // Channel 1 is a ramp, channel 2 constant, channel 3 random with a large offset.
  auto map = torch::zeros({4, 5, 7});
  map[1] = torch::arange(35, torch::kFloat32).view({5, 7}) * 0.5 - 3;
  map[2].fill_(4.25);
  map[3] = torch::randn({5, 7}, torch::TensorOptions().dtype(torch::kFloat32)) * 7 + 100;
  const auto options = viz::FeatureMapOptions().channels(4).tile(60);
  const auto png = viz::draw_feature_map(test_photo(50, 50), map, "block.conv", options);
  const auto picture = decode_png(png);
  const auto layout = viz::feature_map_layout(5, 7, 4, options);
  EXPECT_EQ(picture.width, layout.width);
  EXPECT_EQ(picture.height, layout.height);
  EXPECT_EQ(layout.scale, 9);  // ceil(60 / 7)
  ASSERT_EQ(layout.tiles.size(), 4u);
  for (int64_t c = 0; c < 4; ++c) {
    EXPECT_TRUE(tile_shows(picture, layout.tiles[static_cast<size_t>(c)], layout.scale, map, c));
  }
  // The ramp's ends are viridis' ends; the constant channel is all index 0.
  const auto& ramp = layout.tiles[1];
  EXPECT_EQ(pixel(picture, ramp.x, ramp.y), viz::viridis()[0]);
  EXPECT_EQ(pixel(picture, ramp.x + ramp.width - 1, ramp.y + ramp.height - 1), viz::viridis()[255]);
  EXPECT_EQ(count_colour(picture, viz::viridis()[255]) > 0, true);
  EXPECT_TRUE(not_blank(picture));
  EXPECT_TRUE(has_antialiased_text(picture, 10, 30));  // the title
}

TEST(FeatureMap, MostActiveChannelsComeFirst) {
  auto map = torch::zeros({5, 3, 3});
  map[0].fill_(0.1);
  map[2].fill_(-3);  // most active by |mean|
  map[4].fill_(2);
  auto options = viz::FeatureMapOptions().channels(2).choice(viz::ChannelChoice::kMostActive);
  EXPECT_EQ(viz::choose_channels(map, options), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(viz::choose_channels(map, viz::FeatureMapOptions().channels(9)),
            (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(viz::choose_channels(map.unsqueeze(0), options.channels(1)), (std::vector<int64_t>{2}));
}

TEST(FeatureMap, RefusesMapsThatAreNotImagesAndBadOptions) {
  const auto photo = test_photo(8, 8);
  try {
    viz::draw_feature_map(photo, torch::zeros({2, 10}), "fc");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_TRUE(contains(e.what(), "expected an activation [C, H, W] or [1, C, H, W]")) << e.what();
    EXPECT_TRUE(contains(e.what(), "got [2, 10]")) << e.what();
  }
  EXPECT_THROW(viz::draw_feature_map(photo, torch::zeros({2, 3, 3}, torch::kLong), "x"),
               InvalidArgument);
  EXPECT_THROW(viz::draw_feature_map(photo, torch::zeros({2, 3, 3}), "x",
                                     viz::FeatureMapOptions().channels(0)),
               InvalidArgument);
  EXPECT_THROW(viz::draw_feature_map(transforms::Image(), torch::zeros({2, 3, 3}), "x"),
               InvalidArgument);
  EXPECT_THROW(viz::render_channel(torch::zeros({2, 3, 3}), 2, 1), InvalidArgument);
  EXPECT_THROW(viz::feature_map_layout(4000, 4000, 64), InvalidArgument);  // too large
}

TEST(FeatureMapLayers, AreTheArticlesForResnet18AndBlocksForOthers) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"resnet18", {"layer1.0.conv1", "layer4.1.conv2"}},
      {"mobilenet_v2", {"features.1.conv.0.0", "features.18.0"}},
      {"googlenet", {"inception3a.branch1.conv", "inception5b.branch4.1.conv"}},
      {"resnet20", {"layer1.0.conv1", "layer3.2.conv2"}},
      {"vgg11", {"features.0", "features.18"}},
      {"mobilenet_v3_small", {"features.1.block.0.0", "features.12.0"}},
      {"efficientnet_b0", {"features.1.0.block.0.0", "features.8.0"}},
      {"convnext_tiny", {"features.1.0.block.0", "features.7.2.block.0"}},
  };
  for (const auto& [name, layers] : expected) {
    const auto model = models::create_model(name);
    EXPECT_EQ(viz::feature_map_layers(*model), layers) << name;
  }
}

TEST(FeatureMapLayers, RunInEvalModeForAModelOfEachFamily) {
  for (const auto* name : {"resnet18", "vgg11", "googlenet", "mobilenet_v2", "mobilenet_v3_large",
                           "mobilenet_v1", "resnet20", "efficientnet_v2_s", "convnext_tiny"}) {
    const auto model = models::create_model(name);
    const auto layers = viz::feature_map_layers(*model);
    ASSERT_FALSE(layers.empty()) << name;
    const auto outputs = viz::layer_outputs(*model, torch::zeros({3, 64, 64}), layers);
    for (const auto& layer : layers) {
      ASSERT_EQ(outputs.count(layer), 1u) << name << " " << layer;
      EXPECT_EQ(outputs.at(layer).dim(), 3) << name << " " << layer;
    }
  }
}

TEST(FeatureMaps, Resnet18PicturesShowItsActivationsAndKeepItsModes) {
  const auto model = models::create_model("resnet18");
  fill_closed_form(*model);
  model->train();
  // A frozen part kept in eval mode, as a trainer keeps it.
  const auto parts = model->named_modules();
  parts["layer1"]->eval();
  const auto& input = models::find_model("resnet18").input;
  const auto photo = test_photo(300, 260);
  const auto dir = temp_dir("maps") / "maps";
  const auto layers = viz::feature_map_layers(*model);
  const auto files = viz::write_feature_maps(*model, input, photo, layers, dir);
  ASSERT_EQ(files, (std::vector<std::filesystem::path>{dir / "layer1.0.conv1.png",
                                                       dir / "layer4.1.conv2.png"}));
  EXPECT_TRUE(model->is_training());
  EXPECT_FALSE(parts["layer1"]->is_training());
  EXPECT_FALSE(parts["layer1.0.conv1"]->is_training());
  EXPECT_TRUE(parts["layer2"]->is_training());

  // The image as the model sees it: the tensor is the display image normalised.
  const auto prepared = viz::prepare_image(photo, input);
  ASSERT_EQ(prepared.display.height, 224);
  ASSERT_EQ(prepared.display.width, 224);
  const auto display = torch::from_blob(const_cast<uint8_t*>(prepared.display.pixels.data()),
                                        {224, 224, 3}, torch::kUInt8)
                           .permute({2, 0, 1})
                           .to(torch::kFloat32);
  const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1});
  const auto std = torch::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1});
  EXPECT_LT((((prepared.tensor * std + mean) * 255) - display).abs().max().item<double>(), 1e-3);

  // The activations, computed here in eval mode, are what each PNG shows.
  model->eval();
  torch::NoGradGuard no_grad;
  const auto outputs = model->forward_with(prepared.tensor.unsqueeze(0), layers).second;
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto map = outputs.at(layers[i])[0];
    const auto picture = decode_png_file(files[i]);
    const auto layout = viz::feature_map_layout(map.size(1), map.size(2), 6);
    ASSERT_EQ(picture.width, layout.width) << layers[i];
    ASSERT_EQ(picture.height, layout.height) << layers[i];
    EXPECT_TRUE(not_blank(picture)) << layers[i];
    for (int64_t c = 0; c < 6; ++c) {
      EXPECT_TRUE(tile_shows(picture, layout.tiles[static_cast<size_t>(c)], layout.scale, map, c))
          << layers[i];
    }
    // The first panel is the display image fitted into a tile, byte for byte.
    const auto& panel = layout.input;
    const auto fitted =
        transforms::resize(prepared.display, transforms::Size{panel.height, panel.width});
    int64_t differing = 0;
    for (int64_t y = 0; y < panel.height; ++y) {
      for (int64_t x = 0; x < panel.width; ++x) {
        differing += !(pixel(picture, panel.x + x, panel.y + y) == pixel(fitted, x, y));
      }
    }
    EXPECT_EQ(differing, 0) << layers[i];
  }
}

TEST(FeatureMaps, AnUnknownLayerNamesTheClosestAndWritesNothing) {
  const auto model = models::create_model("resnet18");
  const auto dir = temp_dir("maps_unknown") / "maps";
  try {
    viz::write_feature_maps(*model, models::InputSpec(), test_photo(40, 40),
                            {"layer1.0.conv1", "layer4.1.conv9"}, dir);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_TRUE(contains(e.what(), "unknown module path 'layer4.1.conv9'")) << e.what();
    EXPECT_TRUE(contains(e.what(), "closest valid paths")) << e.what();
    EXPECT_TRUE(contains(e.what(), "'layer4.1.conv1'")) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_THROW(viz::write_feature_maps(*model, models::InputSpec(), test_photo(40, 40),
                                       {"conv1", "conv1"}, dir),
               InvalidArgument);
  EXPECT_THROW(viz::write_feature_maps(*model, models::InputSpec(), test_photo(40, 40), {}, dir),
               InvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(FeatureMaps, AHeadOutputIsDrawnAsOneValueAChannel) {
  const auto model = models::create_model("resnet20");
  const auto outputs = viz::layer_outputs(*model, torch::zeros({3, 32, 32}), {"linear"});
  EXPECT_EQ(outputs.at("linear").sizes(), (std::vector<int64_t>{10, 1, 1}));
}

}  // namespace
}  // namespace xfer::testing
