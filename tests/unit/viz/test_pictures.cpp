// curves.png, confusion.png and samples.png decode to pictures of the documented size that show
// their data: the series' colours, the confusion's row fractions, the samples' frames and text.

#include "pictures.h"
#include "xfer/core/error.h"
#include "xfer/viz/colormap.h"
#include "xfer/viz/confusion.h"
#include "xfer/viz/curves.h"
#include "xfer/viz/samples.h"

#include <gtest/gtest.h>

#include <cmath>

namespace xfer::testing {
namespace {

const viz::Rgb kTrainColour{0x1f, 0x77, 0xb4};
const viz::Rgb kValidationColour{0xff, 0x7f, 0x0e};
const viz::Rgb kBestColour{0x2c, 0xa0, 0x2c};
const viz::Rgb kWrongColour{0xd6, 0x27, 0x28};

std::vector<run::EpochMetrics> epochs(int64_t count) {
  std::vector<run::EpochMetrics> rows;
  for (int64_t e = 1; e <= count; ++e) {
    const double t = static_cast<double>(e);
    rows.push_back(
        {e, 1.5 / t, 1 - 0.5 / t, 1.6 / t + 0.02 * t, 0.9 - 0.4 / t - 0.01 * t, 0.1, 10});
  }
  return rows;
}

TEST(Curves, DrawLossAndAccuracyWithTheBestEpochAndText) {
  const auto picture = decode_png(viz::draw_curves(epochs(12)));
  EXPECT_EQ(picture.width, 1200);
  EXPECT_EQ(picture.height, 480);
  EXPECT_TRUE(not_blank(picture));
  // Both series and the best-epoch marker are drawn in their colours.
  EXPECT_GT(count_colour(picture, kTrainColour), 400);
  EXPECT_GT(count_colour(picture, kValidationColour), 400);
  EXPECT_GT(count_colour(picture, kBestColour), 100);
  EXPECT_TRUE(has_antialiased_text(picture, 10, 30));   // the title
  EXPECT_TRUE(has_antialiased_text(picture, 440, 40));  // tick labels and "epoch"
}

TEST(Curves, ASingleEpochIsDrawnAsPointsAndNanIsLeftOut) {
  auto rows = epochs(1);
  EXPECT_GT(count_colour(decode_png(viz::draw_curves(rows)), kValidationColour), 20);
  rows = epochs(5);
  rows[2].val_loss = std::nan("");
  rows[3].train_acc = INFINITY;
  EXPECT_TRUE(not_blank(decode_png(viz::draw_curves(rows))));
  EXPECT_THROW(viz::draw_curves({}), InvalidArgument);
}

TEST(LrSweep, DrawsTheLossAgainstTheRateWithTheSuggestion) {
  std::vector<double> lrs;
  std::vector<double> losses;
  for (int i = 0; i < 50; ++i) {
    lrs.push_back(1e-6 * std::pow(10.0, i / 7.0));
    losses.push_back(i < 35 ? 1.0 - 0.02 * i : 0.3 + 0.5 * (i - 35));  // 7.3 at the end: left out
  }
  losses[3] = std::nan("");
  const auto picture = decode_png(viz::draw_lr_sweep(lrs, losses, 20));
  EXPECT_EQ(picture.width, 1000);
  EXPECT_EQ(picture.height, 560);
  EXPECT_TRUE(not_blank(picture));
  EXPECT_GT(count_colour(picture, kTrainColour), 400);
  EXPECT_GT(count_colour(picture, kBestColour), 60);  // the suggestion's disc (its line is antialiased)
  EXPECT_TRUE(has_antialiased_text(picture, 10, 30));
  EXPECT_THROW(viz::draw_lr_sweep({}, {}, 0), InvalidArgument);
  EXPECT_THROW(viz::draw_lr_sweep({1e-3, 1e-2}, {1.0}, 0), InvalidArgument);
  EXPECT_THROW(viz::draw_lr_sweep({1e-3, 1e-2}, {1.0, 0.5}, 2), InvalidArgument);
  EXPECT_THROW(viz::draw_lr_sweep({0, 1e-2}, {1.0, 0.5}, 0), InvalidArgument);
}

TEST(Confusion, CellsAreRowFractionsInViridisWithCounts) {
  eval::Confusion confusion(3);
  for (int i = 0; i < 10; ++i) confusion.add(0, 0);  // row 0 all right: viridis 255
  for (int i = 0; i < 4; ++i) confusion.add(1, 2);   // row 1 all wrong: its diagonal is 0
  confusion.add(2, 2);
  const auto picture = decode_png(
      viz::draw_confusion(confusion, {"ants", "bees with a very long name indeed", "wasps"}));
  EXPECT_TRUE(not_blank(picture));
  EXPECT_GE(picture.width, 640);
  // Three full-row cells (0,0), (1,2), (2,2) in yellow, 64 x 64 each less the count's glyphs;
  // the colour bar has a few rows of it too.
  const auto yellow = count_colour(picture, viz::viridis()[255]);
  EXPECT_GT(yellow, 3 * 64 * 64 - 3 * 600);
  EXPECT_LT(yellow, 3 * 64 * 64 + 200);
  // Six empty cells in purple.
  EXPECT_GT(count_colour(picture, viz::viridis()[0]), 6 * 64 * 64 - 6 * 400);
  EXPECT_TRUE(has_antialiased_text(picture, 14, 26));
}

TEST(Confusion, ManyClassesFitAndNamesMustMatch) {
  eval::Confusion confusion(100);
  for (int64_t c = 0; c < 100; ++c) confusion.add(c, (c * 7) % 100);
  std::vector<std::string> names;
  for (int c = 0; c < 100; ++c) names.push_back("class_" + std::to_string(c));
  const auto picture = decode_png(viz::draw_confusion(confusion, names));
  EXPECT_TRUE(not_blank(picture));
  EXPECT_LT(picture.width, 2000);
  try {
    viz::draw_confusion(confusion, {"a", "b"});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("expected 100 class names, got 2"), std::string::npos);
  }
}

transforms::Image square(uint8_t r, uint8_t g, uint8_t b, int64_t side) {
  auto image = transforms::Image::filled(side, side, 3);
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    image.pixels[i] = r;
    image.pixels[i + 1] = g;
    image.pixels[i + 2] = b;
  }
  return image;
}

TEST(Samples, ChoosesMistakesFirstThenEveryClassInTurn) {
  const std::vector<run::Prediction> predictions = {
      {0, 0, 0, 0.9, ""},  {1, 0, 1, 0.6, ""}, {2, 1, 1, 0.8, ""}, {3, 0, 0, 0.7, ""},
      {4, 2, 0, 0.95, ""}, {5, 1, 1, 0.5, ""}, {6, 2, 2, 0.99, ""}};
  // Mistakes by confidence (4, 1), then right ones a class at a time: 0, 2, 6, then 3, 5.
  EXPECT_EQ(viz::choose_samples(predictions, 10), (std::vector<size_t>{4, 1, 0, 2, 6, 3, 5}));
  EXPECT_EQ(viz::choose_samples(predictions, 3), (std::vector<size_t>{4, 1, 0}));
  EXPECT_THROW(viz::choose_samples(predictions, 0), InvalidArgument);
}

TEST(Samples, FramesMistakesRedAndPutsThemFirst) {
  // A right green sample first, then a wrong one: the wrong one is drawn in the first cell.
  std::vector<viz::Sample> samples;
  samples.push_back({square(120, 200, 60, 32), 0, 0, 0.9});
  samples.push_back({square(0, 0, 255, 48), 1, 0, 0.7});
  samples.push_back({transforms::Image::filled(20, 40, 1, 200), 1, 1, 0.6});  // grey, wide
  const auto picture = decode_png(
      viz::draw_samples(samples, {"cat", "dog"}, viz::SamplesOptions().cell(64).columns(3)));
  EXPECT_TRUE(not_blank(picture, 8));
  EXPECT_GT(count_colour(picture, kWrongColour), 4 * 60);
  // First cell (x 16..136, the image centred): the blue image scaled to 64 x 64.
  EXPECT_EQ(pixel(picture, 16 + 60, 16 + 56 + 32), (viz::Rgb{0, 0, 255}));
  EXPECT_EQ(count_colour(picture, viz::Rgb{0, 0, 255}), 64 * 64);
  EXPECT_EQ(count_colour(picture, viz::Rgb{120, 200, 60}), 64 * 64);
  EXPECT_TRUE(has_antialiased_text(picture, 16 + 56 + 64, 36));  // the labels
}

TEST(Samples, RefusesBadInput) {
  const std::vector<viz::Sample> one = {{square(1, 2, 3, 8), 0, 2, 0.5}};
  EXPECT_THROW(viz::draw_samples(one, {"a", "b"}), InvalidArgument);  // prediction 2
  EXPECT_THROW(viz::draw_samples({}, {"a"}), InvalidArgument);
  EXPECT_THROW(viz::draw_samples({{transforms::Image(), 0, 0, 1}}, {"a"}), InvalidArgument);
  EXPECT_THROW(viz::draw_samples(one, {"a", "b", "c"}, viz::SamplesOptions().cell(8)),
               InvalidArgument);
}

}  // namespace
}  // namespace xfer::testing
