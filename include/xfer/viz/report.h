#pragma once
// The pictures of a run directory drawn from its files, and report.html: one self-contained page
// (every image embedded, no network, no external style or script) gathering the run.

#include "xfer/run/files.h"
#include "xfer/transforms/image.h"
#include "xfer/viz/samples.h"

#include <torch/arg.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace xfer::viz {

/// The image of a test sample, for the samples grid.
using SampleImage = std::function<transforms::Image(const run::Prediction&)>;

/// How write_run_pictures gets what the files do not hold.
struct RunPicturesOptions {
  /// The image of a prediction; empty: decode its `file` (samples.png is skipped, with a note,
  /// when a chosen sample has none or it cannot be read: in-memory datasets).
  TORCH_ARG(SampleImage, sample_image) = {};
  /// Layout of samples.png.
  TORCH_ARG(SamplesOptions, samples) = {};
};

/// What write_run_pictures did.
struct RunPictures {
  /// The pictures written, in the order drawn.
  std::vector<std::filesystem::path> written;
  /// Why a picture was not drawn, one line each.
  std::vector<std::string> notes;
};

/// The class names of a run: `classes` of results.json when it has them, else the names
/// predictions.csv spells; empty when neither file exists. Throws as run::read_results and
/// run::read_predictions_table, and FormatError when predictions.csv has a class beyond
/// results.json's list.
std::vector<std::string> run_classes(const std::filesystem::path& run_dir);

/// Draws, atomically, into `run_dir`: curves.png from metrics.csv (when it has an epoch),
/// confusion.png from predictions.csv with run_classes, and samples.png from predictions.csv
/// (choose_samples) with the images `options` gives. A picture whose input is missing is noted,
/// not an error. Throws IoError when `run_dir` is not a directory or a file cannot be read or
/// written, FormatError for a malformed file, and as the draw_ functions.
RunPictures write_run_pictures(const std::filesystem::path& run_dir,
                               const RunPicturesOptions& options = {});

/// Writes `run_dir/report.html` (atomically) from what the directory holds, every piece optional:
/// results.json (test measures, best epoch), curves.png, metrics.csv (a table per epoch, the best
/// epoch highlighted), confusion.png, per-class support, precision and recall (predictions.csv
/// through eval::Confusion, named by run_classes), samples.png, maps/*.png (by file name) and
/// config.json (pretty-printed). A run without results.json is shown as in progress, its test
/// evaluation pending. Everything read from files is HTML-escaped. Returns the file written.
/// Throws IoError when `run_dir` is not a directory or a file cannot be read or written,
/// InvalidArgument when it holds neither config.json nor metrics.csv, FormatError for a
/// malformed file.
std::filesystem::path write_report(const std::filesystem::path& run_dir);

}  // namespace xfer::viz
