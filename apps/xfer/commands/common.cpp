#include "commands/common.h"

#include "xfer/train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace xfer::cli {

CLI::Validator at_least(int64_t minimum) {
  const std::string expected = "expected an integer of at least " + std::to_string(minimum);
  return CLI::Validator(
      [minimum, expected](std::string& text) -> std::string {
        int64_t value = 0;
        if (!CLI::detail::lexical_cast(text, value) || value < minimum) {
          return expected + ", got '" + text + "'";
        }
        return "";
      },
      ">=" + std::to_string(minimum));
}

void add_tta_option(CLI::App& command, std::string& tta) {
  command
      .add_option("--tta", tta,
                  "Test-time augmentation: none; flip (the mean of each image's and its mirror's "
                  "probabilities; helps only a model trained with flips); five-crop (the mean "
                  "over torchvision's FiveCrop of the resized image, for an eval transform that "
                  "crops) or ten-crop (the five crops and their mirrors)")
      ->check(CLI::IsMember({"none", "flip", "five-crop", "ten-crop"}))
      ->capture_default_str();
}

TtaViews tta_views(const std::string& tta) {
  return {tta == "flip" || tta == "ten-crop", tta == "five-crop" || tta == "ten-crop"};
}

void add_threads_option(CLI::App& command, RuntimeOptions& options) {
  command
      .add_option("--threads", options.threads,
                  "Intra-op CPU threads; 0 = every hardware thread (LibTorch alone would use half)")
      ->check(at_least(0))
      ->capture_default_str();
}

void add_runtime_options(CLI::App& command, RuntimeOptions& options) {
  add_threads_option(command, options);
  command
      .add_option("--precision", options.precision,
                  "auto (bf16 where the device computes it natively, else fp32; `xfer train`: "
                  "for the frozen backbone only), fp32, or bf16 (a frozen backbone's fused graph "
                  "converted to bf16, what trains or runs with --no-fuse under autocast; slow "
                  "where emulated)")
      ->check(CLI::IsMember(train::spellings<train::PrecisionChoice>()))
      ->capture_default_str();
  command.add_option("--device", options.device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str();
}

void print_note(const std::string& message) { std::cerr << "note: " << message << "\n"; }

void add_fuse_option(CLI::App& command, RuntimeOptions& options) {
  command.add_flag("--no-fuse", options.no_fuse,
                   "Run the frozen backbone eagerly, module by module, instead of its traced "
                   "graph with batch norm folded into the convolutions and, on the CPU, the "
                   "convolutions (channels_last) and Linear layers on oneDNN with their "
                   "activations and residual additions fused in (to compare)");
}

Runtime apply(const RuntimeOptions& options) {
  Runtime runtime;
  runtime.fuse = !options.no_fuse;
  runtime.threads = set_threads(options.threads);
  runtime.device = parse_device(options.device);
  runtime.precision = train::resolve_precision(
      train::parse_spelling<train::PrecisionChoice>("precision", options.precision), runtime.device);
  return runtime;
}

std::string megabytes(std::uint64_t bytes) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / 1e6 << " MB";
  return out.str();
}

StatusLine::StatusLine() : terminal_(isatty(STDERR_FILENO) != 0) {}

StatusLine::~StatusLine() { end(); }

void StatusLine::draw(const std::string& text, bool last) {
  const auto now = std::chrono::steady_clock::now();
  if (!last && open_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::cerr << "\r" << text << "\033[K" << std::flush;
  open_ = true;
}

void StatusLine::print(const std::string& text) {
  end();
  std::cerr << text << "\n" << std::flush;
}

void StatusLine::end() {
  if (!open_) return;
  std::cerr << "\n" << std::flush;
  open_ = false;
}

std::string bar(std::uint64_t done, std::uint64_t total, int width) {
  const int filled = total > 0 ? static_cast<int>(static_cast<std::uint64_t>(width) *
                                                   std::min(done, total) / total)
                               : 0;
  return "[" + std::string(filled, '#') + std::string(width - filled, ' ') + "]";
}

ProgressPrinter::ProgressPrinter(std::string label) : label_(std::move(label)) {}

void ProgressPrinter::report(std::uint64_t done, std::uint64_t total) {
  if (done == 0 && total == 0) return;  // nothing known yet: the headers have not arrived
  if (!started_) {
    line_.print("downloading " + label_);
    started_ = true;
  }
  std::ostringstream text;
  if (line_.terminal()) {
    if (total > 0) {
      text << bar(done, total, 30) << " " << std::setw(3) << 100 * done / total << "% "
           << megabytes(done) << " of " << megabytes(total);
    } else {
      text << megabytes(done);
    }
    line_.draw(text.str(), done == total);
    return;
  }
  const std::uint64_t step = total > 0 ? 10 * done / total : done / 10'000'000;
  if (printed_ && step == printed_step_) return;
  printed_ = true;
  printed_step_ = step;
  text << "  " << megabytes(done);
  if (total > 0) text << " of " << megabytes(total) << " (" << 100 * done / total << "%)";
  line_.print(text.str());
}

}  // namespace xfer::cli
