#include "commands/data.h"

#include "commands/common.h"
#include "xfer/data/download.h"
#include "xfer/data/spec.h"
#include "xfer/data/summary.h"

#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <memory>

namespace xfer::cli {
namespace {

struct InspectOptions {
  RuntimeOptions runtime;
  std::string spec;
  double val_fraction = 0.1;
  int64_t per_class = 0;
  uint64_t seed = 0;
  bool json = false;
  bool download = false;
  std::string data_url;
};

struct DownloadCommandOptions {
  RuntimeOptions runtime;
  std::string spec;
  std::string data_url;
};

void print_json(const data::DatasetSummary& summary) {
  nlohmann::json out;
  out["spec"] = summary.spec;
  out["train"] = summary.train;
  out["val"] = summary.val;
  out["test"] = summary.test;
  out["min_size"] = {summary.min_size.height, summary.min_size.width};
  out["max_size"] = {summary.max_size.height, summary.max_size.width};
  out["classes"] = nlohmann::json::array();
  for (const auto& counts : summary.classes) {
    out["classes"].push_back(
        {{"name", counts.name}, {"train", counts.train}, {"val", counts.val}, {"test", counts.test}});
  }
  out["bad_files"] = nlohmann::json::array();
  for (const auto& bad : summary.bad_files) {
    out["bad_files"].push_back({{"file", bad.file.string()}, {"reason", bad.reason}});
  }
  std::cout << out.dump(2) << "\n";
}

void print_table(const data::DatasetSummary& summary) {
  std::cout << summary.spec << ": " << summary.classes.size() << " classes, " << summary.train
            << " train / " << summary.val << " val / " << summary.test << " test\n";
  std::cout << "image size: " << summary.min_size.height << "x" << summary.min_size.width;
  if (!(summary.min_size == summary.max_size)) {
    std::cout << " to " << summary.max_size.height << "x" << summary.max_size.width
              << " (height x width, each its own range)";
  }
  std::cout << "\n\n";
  size_t width = 5;
  for (const auto& counts : summary.classes) width = std::max(width, counts.name.size());
  std::cout << std::left << std::setw(static_cast<int>(width) + 2) << "class" << std::right
            << std::setw(8) << "train" << std::setw(8) << "val" << std::setw(8) << "test" << "\n";
  for (const auto& counts : summary.classes) {
    std::cout << std::left << std::setw(static_cast<int>(width) + 2) << counts.name << std::right
              << std::setw(8) << counts.train << std::setw(8) << counts.val << std::setw(8)
              << counts.test << "\n";
  }
  std::cout << "\n" << summary.bad_files.size() << " bad file(s)";
  if (!summary.bad_files.empty()) std::cout << " (training stops on them unless --skip-bad):";
  std::cout << "\n";
  for (const auto& bad : summary.bad_files) {
    std::cout << "  " << bad.file.string() << ": " << bad.reason << "\n";
  }
}

void run_inspect(const InspectOptions& options) {
  const Runtime runtime = apply(options.runtime);
  const auto spec = data::parse_dataset_spec(options.spec);
  if (options.download) download_dataset(spec, options.data_url);
  const auto summary = data::summarize(spec, data::DataOptions()
                                                 .val_fraction(options.val_fraction)
                                                 .per_class(options.per_class)
                                                 .seed(options.seed)
                                                 .threads(runtime.threads));
  if (options.json) {
    print_json(summary);
  } else {
    print_table(summary);
  }
}

void run_download(const DownloadCommandOptions& options) {
  apply(options.runtime);
  const auto spec = data::parse_dataset_spec(options.spec);
  const auto installed = download_dataset(spec, options.data_url);
  if (!installed.extracted) {
    std::cerr << data::format_name(spec.format) << ": the files are already in "
              << installed.folder.string() << "; nothing downloaded\n";
  }
  std::cout << installed.folder.string() << "\n";
}

CLI::Option* add_data_url_option(CLI::App& command, std::string& url) {
  return command.add_option(
      "--data-url", url,
      "Download the archive from URL (a mirror: http, https or file) instead of "
      "the official address; its MD5 is still checked");
}

}  // namespace

data::InstalledDataset download_dataset(const data::DatasetSpec& spec, const std::string& url) {
  const auto archive = data::official_archive(spec.format);
  const std::string file = archive.url.substr(archive.url.rfind('/') + 1);
  data::InstalledDataset installed;
  {
    ProgressPrinter printer(file);
    installed = data::ensure_dataset(
        spec, data::DownloadOptions().url(url).progress(
                  [&](std::uint64_t done, std::uint64_t total) { printer.report(done, total); }));
  }
  if (installed.extracted) {
    std::cerr << data::format_name(spec.format) << ": extracted " << file << " into "
              << installed.folder.string() << "\n";
  }
  return installed;
}

void add_data_command(CLI::App& app) {
  auto* group = app.add_subcommand("data", "Look at a dataset before training on it");
  group->require_subcommand(1);
  auto options = std::make_shared<InspectOptions>();
  auto* inspect = group->add_subcommand(
      "inspect",
      "Classes, counts per split and class, image size range and undecodable files of a dataset");
  inspect
      ->add_option("spec", options->spec,
                   "cifar10:DIR, cifar100:DIR, fashion-mnist[:DIR], mnist:DIR or folder:DIR")
      ->required();
  add_threads_option(*inspect, options->runtime);
  inspect
      ->add_option("--val-fraction", options->val_fraction,
                   "Fraction of each class of train held out for validation")
      ->check(CLI::Range(0.0, 0.99))
      ->capture_default_str();
  inspect->add_option("--per-class", options->per_class, "At most N images a class (0 = all)")
      ->check(at_least(0))
      ->capture_default_str();
  inspect->add_option("--seed", options->seed, "Seed of the validation split and subsets")
      ->capture_default_str();
  inspect->add_flag("--json", options->json, "Print one JSON object instead of a table");
  auto* download_flag =
      inspect->add_flag("--download", options->download,
                        "Download and extract the official archive into DIR first when its files "
                        "are not there (cifar10, cifar100)");
  add_data_url_option(*inspect, options->data_url)->needs(download_flag);
  inspect->callback([options] { run_inspect(*options); });

  auto download_options = std::make_shared<DownloadCommandOptions>();
  auto* download = group->add_subcommand(
      "download",
      "Download the official archive of a dataset (cifar10, cifar100) into the cache, MD5 "
      "checked, and extract it into DIR; prints the folder that holds the files");
  download->add_option("spec", download_options->spec, "cifar10:DIR or cifar100:DIR")->required();
  add_threads_option(*download, download_options->runtime);
  add_data_url_option(*download, download_options->data_url);
  download->callback([download_options] { run_download(*download_options); });
}

}  // namespace xfer::cli
