#pragma once
// A data-efficiency sweep: the test accuracy of several strategies at several amounts of
// labelled data, drawn as one plot and gathered in one page that links each run's own report.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::viz {

/// One finished run of a sweep.
struct SweepPoint {
  /// The strategy, one line of the plot ("feature extraction").
  std::string strategy;
  /// Labelled training images a class the run had (before the validation hold-out).
  int64_t labelled = 0;
  /// Test top-1 accuracy, in [0, 1].
  double top1 = 0;
  /// Epochs trained.
  int64_t epochs = 0;
  /// Seconds the run took.
  double seconds = 0;
  /// The run directory.
  std::filesystem::path run_dir;
};

/// A PNG (1000 × 600): test accuracy (%) against labelled images a class on a logarithmic
/// axis, one line per strategy (in order of first appearance, points sorted by `labelled`),
/// each point marked, and a legend. Throws InvalidArgument for no points, a `labelled` below 1,
/// an accuracy outside [0, 1], more than 8 strategies, or two points of one strategy at the
/// same amount.
std::string draw_sweep(const std::vector<SweepPoint>& points, const std::string& title);

/// Writes, each atomically, into the existing folder `dir`: sweep.png (draw_sweep), sweep.csv
/// (labelled,strategy,test_top1,epochs,seconds,run — one row a point) and report.html: `title`,
/// `intro` (plain text), the plot, a table with one row per amount and the accuracy and time of
/// each strategy (the best of a row in bold), and links to each run's report.html, relative to
/// `dir`. Returns report.html. Throws as draw_sweep, and IoError when `dir` is not a directory
/// or a file cannot be written.
std::filesystem::path write_sweep_report(const std::filesystem::path& dir, const std::string& title,
                                         const std::string& intro,
                                         const std::vector<SweepPoint>& points);

}  // namespace xfer::viz
