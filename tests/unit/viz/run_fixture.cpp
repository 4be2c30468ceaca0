#include "run_fixture.h"

#include "xfer/core/files.h"
#include "xfer/viz/feature_maps.h"

#include <torch/types.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace xfer::testing {
namespace {

const char* const kConfig = R"({
  "model": "resnet18",
  "weights": "imagenet",
  "data": "folder:hymenoptera <script>alert('not escaped')</script>",
  "epochs": 8,
  "lr": 0.001
}
)";

std::vector<run::EpochMetrics> fixture_metrics(int64_t epochs) {
  std::vector<run::EpochMetrics> rows;
  for (int64_t e = 1; e <= epochs; ++e) {
    const double t = static_cast<double>(e);
    // Validation accuracy peaks at epoch 6.
    const double val_acc = 0.95 - 0.004 * (t - 6) * (t - 6);
    rows.push_back({e, 1.2 / t, 0.6 + 0.04 * t, 0.9 / t + 0.01 * t, val_acc, 1e-3 / t, 3.5});
  }
  return rows;
}

}  // namespace

transforms::Image fixture_image(int64_t index) {
  auto image = transforms::Image::filled(40, 52, 3);
  for (int64_t y = 0; y < 40; ++y) {
    for (int64_t x = 0; x < 52; ++x) {
      uint8_t* p = &image.pixels[static_cast<size_t>((y * 52 + x) * 3)];
      p[0] = static_cast<uint8_t>((index * 37 + x * 4) % 256);
      p[1] = static_cast<uint8_t>((index * 91 + y * 6) % 256);
      p[2] = static_cast<uint8_t>(((x / 6 + y / 6 + index) % 2) * 200 + 30);
    }
  }
  return image;
}

FixtureRun write_finished_run(const std::filesystem::path& dir, bool image_files) {
  std::filesystem::create_directories(dir / "maps");
  FixtureRun fixture;
  fixture.classes = {"ants", "bees <&> \"wasps\"", "moths"};
  fixture.metrics = fixture_metrics(8);
  write_file_atomically(dir / "config.json", kConfig);
  run::write_metrics(dir / "metrics.csv", fixture.metrics);
  if (image_files) std::filesystem::create_directories(dir / "images");
  for (int64_t i = 0; i < 30; ++i) {
    const int64_t label = i % 3;
    const int64_t predicted = i % 4 == 1 && i < 28 ? (label + 1) % 3 : label;  // 7 wrong
    run::Prediction p{i, label, predicted, 0.4 + 0.02 * static_cast<double>(i), ""};
    if (image_files) {
      const auto image = fixture_image(i);
      cv::Mat rgb(40, 52, CV_8UC3, const_cast<uint8_t*>(image.pixels.data()));
      cv::Mat bgr;
      cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
      std::vector<uint8_t> png;
      cv::imencode(".png", bgr, png);
      p.file = (dir / "images" / ("sample_" + std::to_string(i) + ".png")).string();
      write_file_atomically(p.file, std::string(png.begin(), png.end()));
    }
    fixture.predictions.push_back(p);
  }
  run::write_predictions(dir / "predictions.csv", fixture.predictions, fixture.classes);
  run::Results results;
  results.best_epoch = 6;
  results.test = {0.4321, 23.0 / 30, 1.0, 30};
  results.classes = fixture.classes;
  run::write_results(dir / "results.json", results);
  torch::manual_seed(3);
  const auto photo = fixture_image(99);
  for (const auto& [layer, map] :
       {std::pair<std::string, torch::Tensor>{"layer1.0.conv1", torch::randn({64, 14, 14})},
        {"layer4.1.conv2", torch::randn({512, 2, 2})}}) {
    write_file_atomically(dir / "maps" / (layer + ".png"),
                          viz::draw_feature_map(photo, map, layer));
  }
  return fixture;
}

void write_run_in_progress(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  write_file_atomically(dir / "config.json", kConfig);
  run::write_metrics(dir / "metrics.csv", fixture_metrics(3));
}

}  // namespace xfer::testing
