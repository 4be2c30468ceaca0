#include "commands/demo.h"

#include "commands/train.h"
#include "xfer/core/error.h"
#include "xfer/train/config.h"
#include "xfer/train/trainer.h"

#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace xfer::cli {
namespace {

// The split of Fashion-MNIST's classes: the source task holds a relative of every target class
// (tops for dress, coat and shirt; sneaker for sandal and ankle boot), so what stage 1 learns is
// worth reusing, as with a pretrained network and a related new task.
const std::vector<std::string> kSourceClasses = {"T-shirt/top", "Trouser", "Pullover", "Sneaker",
                                                 "Bag"};
const std::vector<std::string> kTargetClasses = {"Dress", "Coat", "Sandal", "Shirt", "Ankle boot"};

struct DemoOptions {
  std::string data = "fashion-mnist";
  std::string out = "runs/demo";
  int64_t labelled = 100;
  int64_t source_per_class = 2000;
  int64_t source_epochs = 1;
  int64_t target_epochs = 10;
  int64_t features_epochs = 60;
  int64_t threads = 0;
  uint64_t seed = 0;
};

train::TrainConfig common(const DemoOptions& o) {
  train::TrainConfig c;
  c.model = "resnet20";
  c.data = o.data;
  c.image_size = 32;
  c.threads = o.threads;
  c.seed = o.seed;
  c.optimizer = train::OptimizerKind::kAdam;
  c.batch_size = 64;
  return c;
}

struct Row {
  std::string what;
  train::TrainResult result;
};

void run_demo(const DemoOptions& o) {
  TrainProgress progress;
  const auto events = progress.events();
  std::vector<Row> rows;

  train::TrainConfig source = common(o);
  source.weights = "none";
  source.classes = kSourceClasses;
  source.per_class = o.source_per_class;
  source.test_per_class = 0;
  source.strategy = train::Strategy::kFinetune;
  source.epochs = o.source_epochs;
  source.lr = 2e-3;
  source.schedule = train::ScheduleKind::kOneCycle;
  source.out = o.out + "/1-source";
  progress.line("stage 1: learn the source task (" + std::to_string(kSourceClasses.size()) +
                " classes, " + std::to_string(o.source_per_class) + " images a class) from scratch");
  rows.push_back({"stage 1: source task, from scratch", train::train(source, events)});
  draw_run(rows.back().result, progress);

  train::TrainConfig target = common(o);
  target.classes = kTargetClasses;
  target.per_class = o.labelled;
  target.test_per_class = 0;  // measured on the whole test split of the target classes
  target.epochs = o.target_epochs;
  target.patience = 0;

  train::TrainConfig features = target;
  features.weights = source.out;
  features.strategy = train::Strategy::kFeatures;
  features.lr = 1e-2;
  features.epochs = o.features_epochs;  // epochs of a head on cached features cost next to nothing
  features.out = o.out + "/2-features";
  progress.line("stage 2a: the target task with " + std::to_string(o.labelled) +
                " images a class, by feature extraction from stage 1");
  rows.push_back({"stage 2: feature extraction", train::train(features, events)});
  draw_run(rows.back().result, progress);

  train::TrainConfig finetune = target;
  finetune.weights = source.out;
  finetune.strategy = train::Strategy::kFinetune;
  finetune.lr = 1e-3;
  finetune.freeze_epochs = 2;
  finetune.out = o.out + "/2-finetune";
  progress.line("stage 2b: the same, by fine-tuning stage 1 (2 epochs with the backbone frozen)");
  rows.push_back({"stage 2: fine-tuning", train::train(finetune, events)});
  draw_run(rows.back().result, progress);

  train::TrainConfig scratch = target;
  scratch.weights = "none";
  scratch.strategy = train::Strategy::kFinetune;
  scratch.lr = 2e-3;
  scratch.out = o.out + "/2-scratch";
  progress.line("baseline: the same network trained from scratch on the same images");
  rows.push_back({"stage 2: from scratch (baseline)", train::train(scratch, events)});
  draw_run(rows.back().result, progress);

  std::cout << "\n" << std::left << std::setw(38) << "strategy" << std::right << std::setw(9)
            << "train" << std::setw(11) << "test top-1" << std::setw(9) << "time" << "  run\n";
  for (const auto& row : rows) {
    std::ostringstream time;
    time << std::fixed << std::setprecision(1) << row.result.seconds << " s";
    std::cout << std::left << std::setw(38) << row.what << std::right << std::setw(9)
              << row.result.epochs.size() << std::setw(9) << std::fixed << std::setprecision(2)
              << 100 * row.result.test.top1 << " %" << std::setw(9) << time.str() << "  "
              << row.result.run_dir.string() << "\n";
  }
  std::cout << "(train: epochs; test: the " << rows.back().result.test.count
            << " test images of the target classes)" << std::endl;
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  auto* command = app.add_subcommand(
      "demo",
      "Multi-stage transfer on Fashion-MNIST, offline: learn 5 classes, then the other 5 from "
      "100 images a class by feature extraction and by fine-tuning, against training from "
      "scratch");
  command->add_option("--data", options->data, "The Fashion-MNIST files")->capture_default_str();
  command->add_option("--out", options->out, "Folder of the four run directories (must not hold them yet)")
      ->capture_default_str();
  command->add_option("--labelled", options->labelled, "Labelled images a target class")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--source-per-class", options->source_per_class,
                      "Images a source class in stage 1 (0: all 6000; 2000 keeps the demo under 5 "
                      "minutes on 2 cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_option("--source-epochs", options->source_epochs, "Epochs of stage 1")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--target-epochs", options->target_epochs,
                      "Epochs of the stage-2 fine-tuning and from-scratch runs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--features-epochs", options->features_epochs,
                      "Epochs of the feature-extraction run (its head trains on cached features)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Seed")->capture_default_str();
  command->add_option("--threads", options->threads, "Intra-op threads; 0: all")
      ->capture_default_str();
  command->callback([options]() { run_demo(*options); });
}

}  // namespace xfer::cli
