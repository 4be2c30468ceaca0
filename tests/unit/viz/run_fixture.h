#pragma once
// A run directory as training leaves it, written through the run module's own writers, for the
// report's tests (unit, CLI and browser).

#include "xfer/run/files.h"
#include "xfer/transforms/image.h"

#include <filesystem>
#include <string>
#include <vector>

namespace xfer::testing {

/// What write_finished_run wrote.
struct FixtureRun {
  /// metrics.csv's rows: 8 epochs, the best (highest validation accuracy) is 6.
  std::vector<run::EpochMetrics> metrics;
  /// predictions.csv's rows: 30 test samples, 7 of them wrong.
  std::vector<run::Prediction> predictions;
  /// The class names; the second needs HTML escaping.
  std::vector<std::string> classes;
};

/// The test image of sample `index`: 40 x 52 RGB, a pattern of its own.
transforms::Image fixture_image(int64_t index);

/// Writes into `dir` (created) what a finished run holds before its pictures are drawn:
/// config.json (with markup to escape), metrics.csv, predictions.csv (each sample's `file` an
/// image written under dir/images when `image_files`, else empty as for CIFAR), results.json and
/// two feature maps in maps/.
FixtureRun write_finished_run(const std::filesystem::path& dir, bool image_files);

/// Writes into `dir` (created) a run in progress: config.json and a metrics.csv of 3 epochs.
void write_run_in_progress(const std::filesystem::path& dir);

}  // namespace xfer::testing
