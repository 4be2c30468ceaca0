#include "commands/demo.h"

#include "commands/train.h"
#include "xfer/core/error.h"
#include "xfer/train/config.h"
#include "xfer/train/trainer.h"
#include "xfer/viz/sweep.h"

#include <algorithm>
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
  std::vector<int64_t> labelled = {10, 30, 100, 300};
  int64_t source_per_class = 2000;
  int64_t source_epochs = 1;
  int64_t target_epochs = 10;
  int64_t features_epochs = 60;
  int64_t threads = 0;
  uint64_t seed = 0;
};

// Stage 2's epochs are given for 100 labelled images a class; a smaller set trains for
// proportionally more epochs, so that every run takes at least as many optimizer steps (a run on
// 10 images a class would otherwise stop after 10 steps and say nothing about the strategy).
constexpr int64_t kReferenceLabelled = 100;

int64_t epochs_for(int64_t epochs, int64_t labelled) {
  return labelled >= kReferenceLabelled
             ? epochs
             : (epochs * kReferenceLabelled + labelled - 1) / labelled;
}

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

const char* const kFeatures = "feature extraction";
const char* const kFinetune = "fine-tuning";
const char* const kScratch = "from scratch";

// The three stage-2 runs at one amount of labelled data.
struct TargetRuns {
  /// One point a strategy.
  std::vector<viz::SweepPoint> points;
  /// Test images every run was measured on.
  int64_t test_count = 0;
};

// The three stage-2 runs at `labelled` images a class, into out/labelled-N/.
TargetRuns run_target(const DemoOptions& o, int64_t labelled,
                                        const std::string& source, TrainProgress& progress) {
  const auto events = progress.events();
  const std::string folder = o.out + "/labelled-" + std::to_string(labelled);
  train::TrainConfig target = common(o);
  target.classes = kTargetClasses;
  target.per_class = labelled;
  target.test_per_class = 0;  // measured on the whole test split of the target classes
  target.epochs = epochs_for(o.target_epochs, labelled);
  target.patience = 0;

  train::TrainConfig features = target;
  features.weights = source;
  features.strategy = train::Strategy::kFeatures;
  features.lr = 1e-2;
  // Epochs of a head on cached features cost next to nothing.
  features.epochs = epochs_for(o.features_epochs, labelled);
  // Computed in each run, not read from a cache an earlier demo left: the times compare.
  features.cache_features = false;
  features.out = folder + "/features";

  train::TrainConfig finetune = target;
  finetune.weights = source;
  finetune.strategy = train::Strategy::kFinetune;
  // fastai's fine_tune: a one-cycle over the frozen epochs at twice the rate (1e-2, the rate
  // feature extraction gives the head), then another with the backbone at discriminative rates
  // (lr/100 ... lr). At a constant 1e-3 the frozen epochs left the new head at chance: the pooled
  // ReLU features share a large mean (|mean| 11.9 against a 7.4 spread between images), which a
  // fresh head maps to one class, and 20 Adam steps of 1e-3 do not undo that.
  finetune.schedule = train::ScheduleKind::kFastai;
  finetune.lr = 5e-3;
  finetune.lowest_lr_mult = 0.01;
  finetune.freeze_epochs = std::max<int64_t>(1, target.epochs / 5);  // the head learns first
  finetune.out = folder + "/finetune";

  train::TrainConfig scratch = target;
  scratch.weights = "none";
  scratch.strategy = train::Strategy::kFinetune;
  scratch.lr = 2e-3;
  scratch.out = folder + "/scratch";

  TargetRuns runs;
  for (const auto& [name, config] : {std::pair<const char*, const train::TrainConfig*>{
                                         kFeatures, &features},
                                     {kFinetune, &finetune},
                                     {kScratch, &scratch}}) {
    progress.line("stage 2, " + std::to_string(labelled) + " images a class: " + name + " (" +
                  std::to_string(config->epochs) + " epochs)");
    const auto result = train::train(*config, events);
    draw_run(result, progress);
    runs.points.push_back({name, labelled, result.test.top1,
                           static_cast<int64_t>(result.epochs.size()), result.seconds,
                           result.run_dir});
    runs.test_count = result.test.count;
  }
  return runs;
}

void print_table(const std::vector<viz::SweepPoint>& points, int64_t test_count) {
  std::cout << "\n" << std::left << std::setw(18) << "labelled a class" << std::right;
  for (const char* name : {kFeatures, kFinetune, kScratch}) std::cout << std::setw(24) << name;
  std::cout << "\n";
  for (size_t i = 0; i < points.size(); i += 3) {
    std::cout << std::left << std::setw(18) << points[i].labelled << std::right;
    for (size_t k = i; k < i + 3; ++k) {
      std::ostringstream cell;
      cell << std::fixed << std::setprecision(2) << 100 * points[k].top1 << " % ("
           << std::setprecision(1) << points[k].seconds << " s)";
      std::cout << std::setw(24) << cell.str();
    }
    std::cout << "\n";
  }
  std::cout << "(test top-1 on the " << test_count
            << " test images of the target classes, and the training time)" << std::endl;
}

void run_demo(DemoOptions o) {
  std::sort(o.labelled.begin(), o.labelled.end());
  o.labelled.erase(std::unique(o.labelled.begin(), o.labelled.end()), o.labelled.end());
  TrainProgress progress;

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
  const auto learned = train::train(source, progress.events());
  draw_run(learned, progress);
  std::ostringstream stage1;
  stage1 << "stage 1: test top-1 " << std::fixed << std::setprecision(2)
         << 100 * learned.test.top1 << " % on " << learned.test.count << " images";
  progress.line(stage1.str());

  std::vector<viz::SweepPoint> points;
  int64_t test_count = 0;
  for (const int64_t labelled : o.labelled) {
    auto runs = run_target(o, labelled, source.out, progress);
    points.insert(points.end(), runs.points.begin(), runs.points.end());
    test_count = runs.test_count;
  }
  const auto report = viz::write_sweep_report(
      o.out, "xfer demo: transfer against training from scratch",
      "Stage 1 trained resnet20 from scratch on five Fashion-MNIST classes (" +
          std::to_string(o.source_per_class) +
          " images a class). Stage 2 learns the other five classes from a few labelled images "
          "a class: by feature extraction (stage 1's frozen backbone and a new linear head), by "
          "fine-tuning all of stage 1's network (fastai's fine_tune: the new head first, then "
          "the whole network at discriminative rates), and by training the same network from "
          "scratch. "
          "Every run is tested on the same " +
          std::to_string(test_count) + " test images of the five target classes.",
      points);
  print_table(points, test_count);
  std::cout << "report: " << report.string() << std::endl;
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  auto* command = app.add_subcommand(
      "demo",
      "Multi-stage transfer on Fashion-MNIST, offline: learn 5 classes, then the other 5 from "
      "10, 30, 100 and 300 labelled images a class by feature extraction and by fine-tuning, "
      "against training from scratch; a table, and report.html with the plot of accuracy "
      "against labelled data");
  command->add_option("--data", options->data, "The Fashion-MNIST files")->capture_default_str();
  command
      ->add_option("--out", options->out,
                   "Folder of the run directories, report.html, sweep.png and sweep.csv (must "
                   "not hold runs yet)")
      ->capture_default_str();
  command
      ->add_option("--labelled", options->labelled,
                   "Labelled images a target class, one stage-2 sweep point each (comma-"
                   "separated)")
      ->delimiter(',')
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--source-per-class", options->source_per_class,
                      "Images a source class in stage 1 (0: all 6000; 2000 keeps the demo under 5 "
                      "minutes on 2 cores)")
      ->check(at_least(0))
      ->capture_default_str();
  command->add_option("--source-epochs", options->source_epochs, "Epochs of stage 1")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--target-epochs", options->target_epochs,
                      "Epochs of the stage-2 fine-tuning and from-scratch runs at 100 labelled "
                      "images a class (fewer images train proportionally more epochs: the same "
                      "steps)")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--features-epochs", options->features_epochs,
                      "Epochs of the feature-extraction runs at 100 labelled images a class "
                      "(scaled as --target-epochs; the head trains on cached features)")
      ->check(at_least(1))
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Seed")->capture_default_str();
  command->add_option("--threads", options->threads, "Intra-op threads; 0: all")
      ->capture_default_str();
  command->callback([options]() { run_demo(*options); });
}

}  // namespace xfer::cli
