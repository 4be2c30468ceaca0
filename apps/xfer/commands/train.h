#pragma once
// `xfer train`: feature extraction, fine-tuning or a multi-stage transfer, into a run directory.

#include "commands/common.h"
#include "xfer/train/trainer.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace xfer::cli {

/// Registers `xfer train` on `app`; `arguments` are the process's after argv[0], which the
/// workers of `--nproc N` are started with (without --nproc).
void add_train_command(CLI::App& app, std::vector<std::string> arguments);

/// Registers `xfer lr-find`: the learning-rate range test on `xfer train`'s options.
void add_lr_find_command(CLI::App& app);

/// Shows a run's progress on stderr: a bar redrawn in place on a terminal (phase, epoch, batch,
/// images/s, loss, ETA), else a plain line at the start of each pass and every tenth of it; and
/// its log lines on stdout.
class TrainProgress {
 public:
  /// Shows `progress`.
  void report(const train::BatchProgress& progress);
  /// Prints a log line on stdout, first ending a bar left open.
  void line(const std::string& text);
  /// The callbacks for train::train / train::resume.
  train::TrainEvents events();

 private:
  StatusLine status_;
  int64_t last_tenth_ = -1;
  std::string last_pass_;
};

/// Draws a finished run's pictures into its directory (curves, confusion matrix, a grid of test
/// samples, feature maps of two layers of the first test image, from the splits it holds) and
/// then report.html, printing what it wrote or why a picture was left out.
void draw_run(const train::TrainResult& result, TrainProgress& progress);

/// Prints what a finished run measured: best epoch, test loss and accuracy, where it is.
void print_result(const train::TrainResult& result);

}  // namespace xfer::cli
