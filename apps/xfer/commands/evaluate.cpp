#include "commands/evaluate.h"

#include "commands/common.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/data/spec.h"
#include "xfer/data/splits.h"
#include "xfer/run/files.h"
#include "xfer/train/trainer.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace xfer::cli {
namespace {

struct EvalOptions {
  RuntimeOptions runtime;
  std::string run;
  std::string data;
  std::string split = "test";
  int64_t batch_size = 0;
  int64_t workers = 0;
  bool json = false;
  std::string tta = "none";
};

std::string percent(double fraction) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << 100 * fraction << " %";
  return out.str();
}

// The confusion matrix as CSV: a header of predicted classes, then one row per true class.
std::string confusion_csv(const eval::Confusion& confusion,
                          const std::vector<std::string>& classes) {
  std::ostringstream csv;
  csv << "true\\predicted";
  for (const auto& name : classes) csv << "," << run::csv_field(name);
  csv << "\n";
  for (int64_t k = 0; k < confusion.num_classes(); ++k) {
    csv << run::csv_field(classes[static_cast<size_t>(k)]);
    for (int64_t j = 0; j < confusion.num_classes(); ++j) csv << "," << confusion.count(k, j);
    csv << "\n";
  }
  return csv.str();
}

// Loss, top-1, top-5, a row per class and the confusion matrix, as a person reads them.
void print_table(const eval::Evaluation& result, const std::vector<std::string>& classes) {
  const auto& confusion = result.confusion;
  std::cout << "loss " << std::fixed << std::setprecision(4) << result.loss << ", top-1 "
            << percent(result.top1) << ", top-5 " << percent(result.top5) << "\n\n";
  size_t width = 5;
  for (const auto& name : classes) width = std::max(width, name.size());
  std::cout << std::left << std::setw(static_cast<int>(width)) << "class" << std::right
            << std::setw(11) << "precision" << std::setw(10) << "recall" << std::setw(9)
            << "support" << "\n";
  for (int64_t k = 0; k < confusion.num_classes(); ++k) {
    std::cout << std::left << std::setw(static_cast<int>(width))
              << classes[static_cast<size_t>(k)] << std::right << std::setw(11)
              << percent(confusion.precision(k)) << std::setw(10) << percent(confusion.recall(k))
              << std::setw(9) << confusion.support(k) << "\n";
  }
  std::cout << "\nconfusion matrix (rows: true class, columns: predicted)\n";
  for (int64_t k = 0; k < confusion.num_classes(); ++k) {
    std::cout << std::setw(static_cast<int>(width)) << classes[static_cast<size_t>(k)];
    for (int64_t j = 0; j < confusion.num_classes(); ++j) {
      std::cout << std::setw(7) << confusion.count(k, j);
    }
    std::cout << "\n";
  }
}

// The same as one JSON object, full precision (results.json's test numbers have the same keys).
void print_json(const eval::Evaluation& result, const std::vector<std::string>& classes,
                const std::string& split, const std::string& data) {
  const auto& confusion = result.confusion;
  nlohmann::ordered_json json = {{"split", split},     {"data", data},
                                 {"count", result.count}, {"loss", result.loss},
                                 {"top1", result.top1},   {"top5", result.top5},
                                 {"classes", nlohmann::json::array()},
                                 {"confusion", nlohmann::json::array()}};
  for (int64_t k = 0; k < confusion.num_classes(); ++k) {
    json["classes"].push_back({{"name", classes[static_cast<size_t>(k)]},
                               {"precision", confusion.precision(k)},
                               {"recall", confusion.recall(k)},
                               {"support", confusion.support(k)}});
    nlohmann::ordered_json row = nlohmann::ordered_json::array();
    for (int64_t j = 0; j < confusion.num_classes(); ++j) row.push_back(confusion.count(k, j));
    json["confusion"].push_back(row);
  }
  std::cout << json.dump(2) << std::endl;
}

void run_eval(const EvalOptions& options) {
  apply(options.runtime);
  auto trained = train::load_run(options.run);
  // The run's own splits, as training made them (its classes, per-class caps, seed and
  // validation fraction), or the whole of another dataset's with the run's class selection.
  train::TrainConfig source = trained.config;
  source.workers = options.workers;
  if (!options.data.empty()) {
    source.data = options.data;
    source.per_class = 0;
    source.test_per_class = 0;
  }
  const auto spec = data::parse_dataset_spec(source.data);
  const auto splits = train::run_splits(source);
  const auto& found = splits.train.classes();
  if (found.size() != trained.classes.size()) {
    throw InvalidArgument("data: " + to_string(spec) + " has " + std::to_string(found.size()) +
                          " classes, the run " + options.run + " " +
                          std::to_string(trained.classes.size()));
  }
  for (size_t k = 0; k < found.size(); ++k) {
    if (found[k] != trained.classes[k]) {
      throw InvalidArgument("data: class " + std::to_string(k) + " of " + to_string(spec) +
                            " is '" + found[k] + "', expected the run's '" +
                            trained.classes[k] + "'");
    }
  }
  const data::Dataset* split = nullptr;
  if (options.split == "test") split = &splits.test;
  if (options.split == "val") split = &splits.val;
  if (options.split == "train") split = &splits.train;
  if (split->empty()) {
    throw InvalidArgument("split: the dataset has no " + options.split + " split");
  }
  train::EvalOptions how;
  how.transform = trained.eval_transform;
  how.batch_size = options.batch_size > 0 ? options.batch_size : trained.config.batch_size;
  how.workers = options.workers;
  how.backbone_precision = train::evaluation_precision(trained.config, c10::Device(c10::kCPU));
  how.fuse = !options.runtime.no_fuse;
  how.log = print_note;
  const TtaViews views = tta_views(options.tta);
  how.tta_flip = views.flip;
  how.tta_five_crop = views.five_crop;
  if (how.tta_five_crop) {
    how.transform = train::five_crop_transform_for(trained.config, trained.input);
  }
  const auto result = train::evaluate(*trained.model, *split, how);
  std::filesystem::path file = run::RunDirectory(options.run).split_confusion(options.split);
  if (options.tta != "none") {
    file.replace_filename(file.stem().string() + "-tta-" + options.tta + ".csv");
  }
  write_file_atomically(file, confusion_csv(result.confusion, trained.classes));
  if (options.json) {
    print_json(result, trained.classes, options.split, to_string(spec));
  } else {
    std::cout << options.run << " on the " << options.split << " split of " << to_string(spec)
              << " (" << result.count << " images"
              << (options.tta == "flip"        ? ", each averaged with its mirror"
                  : options.tta == "five-crop" ? ", each the mean of its five crops"
                  : options.tta == "ten-crop"  ? ", each the mean of its five crops and their mirrors"
                                               : "")
              << ")\n";
    print_table(result, trained.classes);
    std::cout << "wrote " << file.string() << std::endl;
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  auto* command = app.add_subcommand(
      "eval", "Loss, top-1, top-5, per-class precision and recall and the confusion matrix of a "
              "run's best model (also saved as RUN/confusion-SPLIT.csv; with --tta T, "
              "RUN/confusion-SPLIT-tta-T.csv)");
  command->add_option("run", options->run, "Run directory")->required()->check(CLI::ExistingDirectory);
  command->add_option("--data", options->data,
                      "Dataset (default: the run's own, with its class selection)");
  command->add_option("--split", options->split, "test, val or train")
      ->check(CLI::IsMember({"test", "val", "train"}))
      ->capture_default_str();
  command->add_option("--batch-size", options->batch_size, "Images per batch; 0: the run's")
      ->check(at_least(0))
      ->capture_default_str();
  command->add_option("--workers", options->workers, "Loader threads; 0: all")->capture_default_str();
  command->add_flag("--json", options->json,
                    "One JSON object: count, loss, top1, top5, per-class measures, confusion");
  add_tta_option(*command, options->tta);
  add_threads_option(*command, options->runtime);
  add_fuse_option(*command, options->runtime);
  command->callback([options]() { run_eval(*options); });
}

}  // namespace xfer::cli
