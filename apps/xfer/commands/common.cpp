#include "commands/common.h"

#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <sstream>

namespace xfer::cli {

void add_threads_option(CLI::App& command, RuntimeOptions& options) {
  command
      .add_option("--threads", options.threads,
                  "Intra-op CPU threads; 0 = every hardware thread (LibTorch alone would use half)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

void add_runtime_options(CLI::App& command, RuntimeOptions& options) {
  add_threads_option(command, options);
  command
      .add_option("--precision", options.precision,
                  "fp32, or bf16 (autocast; fast only on CPUs with native bf16 and on CUDA)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  command.add_option("--device", options.device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str();
}

Runtime apply(const RuntimeOptions& options) {
  Runtime runtime;
  runtime.threads = set_threads(options.threads);
  runtime.precision = parse_precision(options.precision);
  runtime.device = parse_device(options.device);
  return runtime;
}

std::string megabytes(std::uint64_t bytes) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / 1e6 << " MB";
  return out.str();
}

ProgressPrinter::ProgressPrinter(std::string label)
    : label_(std::move(label)), terminal_(isatty(STDERR_FILENO) != 0) {}

ProgressPrinter::~ProgressPrinter() {
  if (terminal_ && started_) std::cerr << "\n";
}

void ProgressPrinter::report(std::uint64_t done, std::uint64_t total) {
  if (done == 0 && total == 0) return;  // nothing known yet: the headers have not arrived
  if (!started_) {
    std::cerr << "downloading " << label_ << "\n";
    started_ = true;
  }
  if (terminal_) {
    draw_bar(done, total);
  } else {
    print_step(done, total);
  }
}

void ProgressPrinter::draw_bar(std::uint64_t done, std::uint64_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (done != total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 30;
  std::cerr << "\r";
  if (total > 0) {
    const int filled = static_cast<int>(kWidth * done / total);
    std::cerr << "[" << std::string(filled, '#') << std::string(kWidth - filled, ' ') << "] "
              << std::setw(3) << 100 * done / total << "% " << megabytes(done) << " of "
              << megabytes(total);
  } else {
    std::cerr << megabytes(done);
  }
  std::cerr << std::flush;
}

void ProgressPrinter::print_step(std::uint64_t done, std::uint64_t total) {
  const std::uint64_t step = total > 0 ? 10 * done / total : done / 10'000'000;
  if (printed_ && step == printed_step_) return;
  printed_ = true;
  printed_step_ = step;
  std::cerr << "  " << megabytes(done);
  if (total > 0) std::cerr << " of " << megabytes(total) << " (" << 100 * done / total << "%)";
  std::cerr << "\n";
}

}  // namespace xfer::cli
