// xfer: transfer learning of image classifiers on LibTorch, from the command line.
// The only code that prints or exits: each command converts its options into library calls, and
// this file turns the library's exceptions into `error: ...` on stderr and a distinct exit code.

#include "commands/classify.h"
#include "commands/common.h"
#include "commands/data.h"
#include "commands/demo.h"
#include "commands/evaluate.h"
#include "commands/export.h"
#include "commands/forward.h"
#include "commands/maps.h"
#include "commands/models.h"
#include "commands/report.h"
#include "commands/train.h"
#include "commands/weights.h"
#include "xfer/core/allocator.h"
#include "xfer/core/error.h"

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace {

// Exit codes, one per kind of failure (documented in --help's footer).
enum ExitCode {
  kOk = 0,
  kError = 1,
  kUsage = 2,
  kInvalidArgument = 3,
  kIoError = 4,
  kFormatError = 5,
  kWeightMismatch = 6,
  kDistributed = 7,
  kInternal = 70,
};

int fail(int code, const std::string& message) {
  // A worker of a distributed job says which one it is: several print to the same terminal.
  const char* world = std::getenv("WORLD_SIZE");
  const char* rank = std::getenv("RANK");
  const bool worker = world != nullptr && std::atoi(world) > 1 && rank != nullptr &&
                      message.rfind("rank ", 0) != 0;
  std::cerr << "error: " << (worker ? "rank " + std::string(rank) + ": " : "") << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  xfer::keep_freed_memory();
  CLI::App app{"xfer: transfer learning of image classifiers (LibTorch), without Python"};
  app.set_help_all_flag("--help-all", "Show the help of every command");
  app.require_subcommand(1);
  app.set_version_flag("--version", "xfer " XFER_VERSION);
  app.footer(
      "Run `xfer COMMAND --help` for a command's options.\n"
      "Exit codes: 0 ok, 2 bad usage, 3 invalid argument, 4 I/O error, 5 bad file format,\n"
      "6 weights do not fit the model, 7 a distributed peer failed or was unreachable,\n"
      "1 other error.");
  xfer::cli::add_models_command(app);
  xfer::cli::add_forward_command(app);
  xfer::cli::add_weights_command(app);
  xfer::cli::add_classify_command(app);
  xfer::cli::add_data_command(app);
  xfer::cli::add_train_command(app, std::vector<std::string>(argv + 1, argv + argc));
  xfer::cli::add_lr_find_command(app);
  xfer::cli::add_eval_command(app);
  xfer::cli::add_predict_command(app);
  xfer::cli::add_export_command(app);
  xfer::cli::add_demo_command(app);
  xfer::cli::add_maps_command(app);
  xfer::cli::add_report_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  } catch (const xfer::InvalidArgument& e) {
    return fail(kInvalidArgument, e.what());
  } catch (const xfer::IoError& e) {
    return fail(kIoError, e.what());
  } catch (const xfer::FormatError& e) {
    return fail(kFormatError, e.what());
  } catch (const xfer::cli::ExitStatus& e) {
    return e.code;
  } catch (const xfer::WeightMismatch& e) {
    return fail(kWeightMismatch, e.what());
  } catch (const xfer::DistributedError& e) {
    return fail(kDistributed, e.what());
  } catch (const xfer::Error& e) {
    return fail(kError, e.what());
  } catch (const c10::Error& e) {
    return fail(kInternal, std::string("LibTorch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(kInternal, e.what());
  }
  return kOk;
}
