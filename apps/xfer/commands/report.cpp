#include "commands/report.h"

#include "commands/common.h"
#include "xfer/viz/report.h"

#include <iostream>
#include <memory>
#include <string>

namespace xfer::cli {
namespace {

struct ReportOptions {
  RuntimeOptions runtime;
  std::string run;
  int64_t samples = 24;
};

void run_report(const ReportOptions& options) {
  apply(options.runtime);
  const auto done = viz::write_run_pictures(
      options.run, viz::RunPicturesOptions().samples(viz::SamplesOptions().count(options.samples)));
  for (const auto& file : done.written) std::cout << "wrote " << file.string() << "\n";
  for (const auto& note : done.notes) std::cout << "note: " << note << "\n";
  std::cout << "wrote " << viz::write_report(options.run).string() << "\n";
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto options = std::make_shared<ReportOptions>();
  auto* command = app.add_subcommand(
      "report",
      "Draw a run's curves.png, confusion.png and samples.png from its files and gather "
      "everything in RUN/report.html (self-contained; also for a run in progress)");
  add_threads_option(*command, options->runtime);
  command->add_option("--samples", options->samples, "Test images in samples.png at most")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  command->add_option("run", options->run, "The run directory")->required();
  command->callback([options] { run_report(*options); });
}

}  // namespace xfer::cli
