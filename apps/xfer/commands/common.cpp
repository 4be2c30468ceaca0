#include "commands/common.h"

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

}  // namespace xfer::cli
