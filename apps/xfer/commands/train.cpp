#include "commands/train.h"

#include "commands/common.h"
#include "launch.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/core/runtime.h"
#include "xfer/dist/group.h"
#include "xfer/train/config.h"
#include "xfer/train/lr_find.h"
#include "xfer/train/worker.h"
#include "xfer/viz/curves.h"
#include "xfer/viz/feature_maps.h"
#include "xfer/viz/report.h"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

namespace xfer::cli {
namespace {

namespace fs = std::filesystem;

// The command line's view of a TrainConfig: every flag bound to a field of `given`, and a record
// of which were typed, so that they override a preset or a config file and nothing else does.
struct TrainOptions {
  train::TrainConfig given;
  // The typed spellings of the enum fields, by flag.
  std::map<std::string, std::string> spelt;
  std::string config_file;
  std::string preset;
  std::string resume;
  int nproc = 0;
  // --threads, --device and --precision, bound as for every command that runs a model.
  RuntimeOptions runtime;
  std::string dist_backend = "auto";
  int64_t dist_timeout = 300;
  std::vector<std::pair<CLI::Option*, std::function<void(train::TrainConfig&)>>> overrides;
  // The process's arguments after argv[0], as main() received them.
  std::vector<std::string> arguments;
};

template <typename T>
void bind_option(CLI::App& command, TrainOptions& options, const std::string& flag,
          T train::TrainConfig::*member, const std::string& help) {
  CLI::Option* option = command.add_option(flag, options.given.*member, help)->capture_default_str();
  options.overrides.push_back(
      {option, [member, &options](train::TrainConfig& c) { c.*member = options.given.*member; }});
}

// An enum field: the flag accepts its spellings only (a usage error names them), and --help
// lists them with the default.
template <typename Enum>
void bind_choice(CLI::App& command, TrainOptions& options, const std::string& flag,
                 Enum train::TrainConfig::*member, const std::string& help) {
  const auto names = train::spellings<Enum>();
  std::string& text = options.spelt[flag];
  text = train::spelling(options.given.*member);
  CLI::Option* option =
      command.add_option(flag, text, help)->check(CLI::IsMember(names))->capture_default_str();
  options.overrides.push_back({option, [member, flag, &options](train::TrainConfig& c) {
                                 c.*member = train::parse_spelling<Enum>(flag.substr(2),
                                                                         options.spelt[flag]);
                               }});
}

void bind_flag(CLI::App& command, TrainOptions& options, const std::string& flag,
               bool train::TrainConfig::*member, const std::string& help) {
  CLI::Option* option = command.add_flag(flag, options.given.*member, help);
  options.overrides.push_back(
      {option, [member, &options](train::TrainConfig& c) { c.*member = options.given.*member; }});
}

std::string default_out(const train::TrainConfig& c) {
  return "runs/" + c.model + "-" + train::spelling(c.strategy);
}

// preset, then config file, then the flags typed; one config per stage.
std::vector<train::TrainConfig> resolve(const TrainOptions& options) {
  train::TrainConfig base;
  if (!options.preset.empty()) base = train::apply_preset(base, options.preset);
  std::vector<train::TrainConfig> stages = {base};
  if (!options.config_file.empty()) {
    stages = train::configs_from_file_text(base, read_file(options.config_file),
                                           options.config_file);
  }
  for (auto& stage : stages) {
    for (const auto& [option, apply] : options.overrides) {
      if (option->count() > 0) apply(stage);
    }
  }
  const std::string root =
      stages.front().out.empty() ? default_out(stages.front()) : stages.front().out;
  return train::chain_stages(std::move(stages), root);
}

// What each worker of `--nproc N` runs: argv[0] `xfer`, then `arguments` without --nproc and
// its value.
std::vector<std::string> worker_argv(const std::vector<std::string>& args) {
  std::vector<std::string> out = {"xfer"};
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

void run_train(const TrainOptions& options) {
  const auto world = dist::world_from_environment();
  if (options.nproc > 0 && !world) {
    if (options.resume.empty()) {
      for (const auto& stage : resolve(options)) train::validate(stage);  // one message, not N
    }
    LaunchOptions launch;
    launch.nproc = options.nproc;
    launch.grace = std::chrono::seconds(options.dist_timeout + 30);
    // The workers are this program again: the executable this process runs, whatever its path.
    const int code = launch_local("/proc/self/exe", worker_argv(options.arguments), launch);
    if (code != 0) throw ExitStatus{code};
    return;
  }
  std::unique_ptr<dist::Group> group;
  if (world && world->size > 1) {
    dist::GroupOptions join;
    join.backend = options.dist_backend;
    join.timeout = std::chrono::seconds(options.dist_timeout);
    join.cuda = parse_device(options.runtime.device).is_cuda();
    group = dist::Group::join(*world, join);
  }
  const bool main = !group || group->is_main();
  TrainProgress progress;
  const train::TrainEvents events = main ? progress.events() : train::TrainEvents{};
  if (!options.resume.empty()) {
    const auto result = train::resume(options.resume, events, group.get());
    if (!main) return;
    print_result(result);
    draw_run(result, progress);
    return;
  }
  auto stages = resolve(options);
  for (auto& stage : stages) {
    train::validate(stage);
    if (world) stage = train::worker_config(stage, *world);
  }
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages.size() > 1 && main) {
      progress.line("stage " + std::to_string(i + 1) + " of " + std::to_string(stages.size()) +
                    ": " + stages[i].out);
    }
    const auto result = train::train(stages[i], events, group.get());
    if (group) group->barrier();  // the next stage reads this one's best weights
    if (!main) continue;
    print_result(result);
    draw_run(result, progress);
  }
}

std::string clock(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream out;
  out << s / 60 << ":" << std::setw(2) << std::setfill('0') << s % 60;
  return out.str();
}

// Every flag that sets a field of the TrainConfig, but --out: what `train` and `lr-find` share.
void add_config_options(CLI::App& app, TrainOptions& o) {
  auto* command = &app;
  bind_option(*command, o, "--model", &train::TrainConfig::model, "Architecture (xfer models)");
  bind_option(*command, o, "--weights", &train::TrainConfig::weights,
       "Initial weights: file, registry name, imagenet, a run directory, or none");
  bind_option(*command, o, "--data", &train::TrainConfig::data,
       "Dataset: cifar10:DIR, cifar100:DIR, fashion-mnist[:DIR], mnist:DIR, folder:DIR");
  command->add_option("--classes", o.given.classes, "Only these classes (names or numbers)")
      ->delimiter(',');
  o.overrides.push_back({command->get_option("--classes"),
                         [&o](train::TrainConfig& c) { c.classes = o.given.classes; }});
  bind_flag(*command, o, "--download", &train::TrainConfig::download,
            "Fetch the dataset's official archive when its files are missing (CIFAR)");
  bind_choice(*command, o, "--strategy", &train::TrainConfig::strategy,
              "Feature extraction (frozen backbone) or fine-tuning");
  bind_option(*command, o, "--head", &train::TrainConfig::head, "linear or mlp:W1,W2,...");
  bind_option(*command, o, "--dropout", &train::TrainConfig::dropout, "Dropout in an MLP head");
  bind_option(*command, o, "--epochs", &train::TrainConfig::epochs, "Epochs");
  bind_option(*command, o, "--batch-size", &train::TrainConfig::batch_size, "Samples per batch");
  bind_choice(*command, o, "--optimizer", &train::TrainConfig::optimizer, "Optimizer");
  bind_option(*command, o, "--lr", &train::TrainConfig::lr, "Learning rate of the head");
  bind_option(*command, o, "--momentum", &train::TrainConfig::momentum, "SGD momentum");
  bind_flag(*command, o, "--nesterov", &train::TrainConfig::nesterov, "SGD with Nesterov momentum");
  bind_option(*command, o, "--weight-decay", &train::TrainConfig::weight_decay, "Weight decay");
  bind_choice(*command, o, "--schedule", &train::TrainConfig::schedule,
              "Learning-rate schedule");
  bind_option(*command, o, "--warmup-epochs", &train::TrainConfig::warmup_epochs,
       "Linear warm-up epochs (constant, step, cosine)");
  bind_option(*command, o, "--step-epochs", &train::TrainConfig::step_epochs, "Step schedule's period");
  bind_option(*command, o, "--gamma", &train::TrainConfig::gamma, "Step schedule's factor");
  bind_option(*command, o, "--label-smoothing", &train::TrainConfig::label_smoothing, "In [0, 1)");
  bind_option(*command, o, "--clip-grad-norm", &train::TrainConfig::clip_grad_norm, "0 disables");
  bind_option(*command, o, "--mixup", &train::TrainConfig::mixup_alpha,
              "MixUp's Beta(α, α), soft targets (timm); 0: off");
  bind_option(*command, o, "--cutmix", &train::TrainConfig::cutmix_alpha,
              "CutMix's Beta(α, α), soft targets (timm); 0: off");
  bind_option(*command, o, "--mix-prob", &train::TrainConfig::mix_prob,
              "Probability that a batch is mixed (MixUp or CutMix on)");
  bind_option(*command, o, "--mix-switch-prob", &train::TrainConfig::mix_switch_prob,
              "Both on: probability of CutMix rather than MixUp for a mixed batch");
  bind_option(*command, o, "--accumulate", &train::TrainConfig::accumulate,
              "Batches a step: gradients of N batches summed, one step of N × --batch-size");
  bind_option(*command, o, "--unfreeze-from", &train::TrainConfig::unfreeze_from,
       "Fine-tune from this module on (e.g. layer3); empty: all");
  bind_option(*command, o, "--backbone-lr-mult", &train::TrainConfig::backbone_lr_mult,
       "Backbone learning rate = lr × this");
  bind_option(*command, o, "--layer-decay", &train::TrainConfig::layer_decay,
       "Fine-tune: each backbone block's rate × this per block from the head (timm); 1: off");
  bind_option(*command, o, "--lowest-lr-mult", &train::TrainConfig::lowest_lr_mult,
       "Fine-tune: the first backbone block's rate = lr × this, the blocks after it "
       "geometrically up to the head's (fastai's lr/100 … lr for 0.01); 0: off");
  bind_option(*command, o, "--freeze-epochs", &train::TrainConfig::freeze_epochs,
       "Fine-tune: first epochs with the backbone frozen");
  bind_choice(*command, o, "--batch-norm", &train::TrainConfig::batch_norm,
              "Fine-tune: batch norm trains, keeps its statistics (eval), or is frozen");
  bind_choice(*command, o, "--layer-norm", &train::TrainConfig::layer_norm,
              "Fine-tune: layer norm (ViT, Swin, ConvNeXt, MaxViT) trains or is frozen");
  bind_option(*command, o, "--ema", &train::TrainConfig::ema_decay,
       "Keep a moving average of the weights with this decay (timm's ModelEmaV2, e.g. 0.999), "
       "validated each epoch and kept as the best when better; 0: off");
  bind_option(*command, o, "--patience", &train::TrainConfig::patience,
       "Stop after this many epochs without a better val accuracy; 0: never");
  bind_option(*command, o, "--seed", &train::TrainConfig::seed, "Seed of everything random");
  bind_option(*command, o, "--val-fraction", &train::TrainConfig::val_fraction,
       "Fraction of train held out for validation");
  bind_option(*command, o, "--per-class", &train::TrainConfig::per_class,
       "At most this many samples per class (0: all)");
  bind_option(*command, o, "--test-per-class", &train::TrainConfig::test_per_class,
       "At most this many test samples per class (-1: as --per-class, 0: all)");
  bind_flag(*command, o, "--skip-bad", &train::TrainConfig::skip_bad,
            "Skip image files that do not decode");
  bind_option(*command, o, "--image-size", &train::TrainConfig::image_size,
       "Resize images to S×S (no crop); 0: the model's own eval transform");
  bind_option(*command, o, "--train-transform", &train::TrainConfig::train_transform,
       "eval (deterministic, features cached); augment (RandomResizedCrop + flip); trivial "
       "(augment + TrivialAugmentWide + RandomErasing 0.1); or a transform spec (docs/training.md)");
  o.runtime.threads = static_cast<int>(o.given.threads);
  o.runtime.precision = train::spelling(o.given.precision);
  o.runtime.device = o.given.device;
  add_runtime_options(*command, o.runtime);
  o.overrides.push_back({command->get_option("--threads"),
                         [&o](train::TrainConfig& c) { c.threads = o.runtime.threads; }});
  o.overrides.push_back({command->get_option("--device"),
                         [&o](train::TrainConfig& c) { c.device = o.runtime.device; }});
  o.overrides.push_back({command->get_option("--precision"), [&o](train::TrainConfig& c) {
                           c.precision = train::parse_spelling<train::PrecisionChoice>(
                               "precision", o.runtime.precision);
                         }});
  bind_option(*command, o, "--workers", &train::TrainConfig::workers, "Loader threads; 0: all");
  command->add_flag("--no-cache", "Do not cache the frozen backbone's features on disk");
  add_fuse_option(*command, o.runtime);
  o.overrides.push_back({command->get_option("--no-fuse"),
                         [](train::TrainConfig& c) { c.fuse = false; }});
  o.overrides.push_back({command->get_option("--no-cache"),
                         [](train::TrainConfig& c) { c.cache_features = false; }});
}

// `xfer lr-find`: a training config, the sweep's options and where its files go.
struct LrFindCommand {
  TrainOptions train;
  train::LrFindOptions sweep;
  bool keep_going = false;
  std::string out;
};

void run_lr_find(const LrFindCommand& options) {
  const auto stages = resolve(options.train);
  if (stages.size() != 1) {
    throw InvalidArgument("lr-find: expected one training config, got a file of " +
                          std::to_string(stages.size()) + " stages (sweep one stage's config)");
  }
  const train::TrainConfig& config = stages.front();
  train::validate(config);
  auto sweep_options = options.sweep;
  sweep_options.stop_div(!options.keep_going);
  train::validate(sweep_options);
  const fs::path out =
      options.out.empty() ? fs::path("runs") / (config.model + "-lr-find") : fs::path(options.out);
  TrainProgress progress;
  const auto sweep = train::find_lr(config, sweep_options, progress.events());

  std::error_code error;
  fs::create_directories(out, error);
  if (error) {
    throw IoError("cannot create '" + out.string() + "': " + error.message());
  }
  std::ostringstream csv;
  csv << "lr,smoothed_loss\n" << std::setprecision(9);
  for (size_t i = 0; i < sweep.lrs.size(); ++i) csv << sweep.lrs[i] << "," << sweep.losses[i] << "\n";
  write_file_atomically(out / "lr_find.csv", csv.str());
  write_file_atomically(out / "lr_find.png",
                        viz::draw_lr_sweep(sweep.lrs, sweep.losses, sweep.valley));
  std::ostringstream lr;
  lr << std::setprecision(3) << sweep.lrs[sweep.valley];
  std::ostringstream loss;
  loss << std::fixed << std::setprecision(4) << sweep.losses[sweep.valley];
  progress.line("suggested learning rate (valley): " + lr.str() + " (smoothed loss " + loss.str() +
                "; train with --lr " + lr.str() + ")");
  progress.line("wrote " + (out / "lr_find.png").string() + " and " +
                (out / "lr_find.csv").string());
}

}  // namespace

void TrainProgress::line(const std::string& text) {
  status_.end();
  std::cout << text << std::endl;
}

void TrainProgress::report(const train::BatchProgress& p) {
  const double rate = p.seconds > 0 ? static_cast<double>(p.samples) / p.seconds : 0;
  const double eta = p.batch > 0 ? p.seconds * static_cast<double>(p.batches - p.batch) /
                                       static_cast<double>(p.batch)
                                 : 0;
  std::ostringstream text;
  if (p.epoch > 0) text << "epoch " << p.epoch << "/" << p.epochs << " ";
  text << p.phase << " " << p.batch << "/" << p.batches;
  if (p.samples > 0) text << ", " << std::fixed << std::setprecision(0) << rate << " img/s";
  if (p.phase == "train" || p.phase == "lr-find") {
    text << ", loss " << std::fixed << std::setprecision(4) << p.loss;
  }
  text << ", ETA " << clock(eta);
  if (status_.terminal()) {
    status_.draw(bar(static_cast<std::uint64_t>(p.batch), static_cast<std::uint64_t>(p.batches),
                     24) +
                     " " + text.str(),
                 p.batch >= p.batches);
    return;
  }
  const std::string pass = p.phase + " " + std::to_string(p.epoch);
  const int64_t tenth = p.batches > 0 ? 10 * p.batch / p.batches : 10;
  if (pass != last_pass_) {
    last_pass_ = pass;
    last_tenth_ = -1;
  }
  if (tenth == last_tenth_ && p.batch != 1) return;
  last_tenth_ = tenth;
  status_.print(text.str());
}

train::TrainEvents TrainProgress::events() {
  train::TrainEvents events;
  events.log = [this](const std::string& text) { line(text); };
  events.progress = [this](const train::BatchProgress& p) { report(p); };
  return events;
}

void draw_run(const train::TrainResult& result, TrainProgress& progress) {
  const run::RunDirectory dir(result.run_dir);
  const auto trained = train::load_run(dir.root());
  const data::Splits& splits = result.splits;
  viz::RunPicturesOptions options;
  options.sample_image(
      [&splits](const run::Prediction& p) { return splits.test.image(p.index); });
  const auto pictures = viz::write_run_pictures(dir.root(), options);
  for (const auto& note : pictures.notes) progress.line("pictures: " + note);
  const auto& images = splits.test.empty() ? splits.val : splits.test;
  if (!images.empty()) {
    viz::write_feature_maps(*trained.model, trained.input, images.image(0),
                            viz::feature_map_layers(*trained.model), dir.maps());
  }
  progress.line("report: " + viz::write_report(dir.root()).string());
}

void print_result(const train::TrainResult& r) {
  std::cout << "run: " << r.run_dir.string() << "\n"
            << "best epoch: " << r.best_epoch << " of " << r.epochs.size()
            << (r.stopped_early ? " (stopped early)" : "") << "\n";
  if (r.test.count > 0) {
    std::cout << std::fixed << std::setprecision(2) << "test: top-1 " << 100 * r.test.top1
              << " %, top-5 " << 100 * r.test.top5 << " %, loss " << std::setprecision(4)
              << r.test.loss << " (" << r.test.count << " images)\n";
  }
  std::cout << std::defaultfloat << "time: " << std::setprecision(3) << r.seconds << " s"
            << std::endl;
}

void add_train_command(CLI::App& app, std::vector<std::string> arguments) {
  auto options = std::make_shared<TrainOptions>();
  auto& o = *options;
  o.arguments = std::move(arguments);
  auto* command = app.add_subcommand(
      "train",
      "Train by feature extraction or fine-tuning (or the stages of a config file) into a run "
      "directory");
  command->footer(
      "Precedence: --preset, then --config FILE (its fields, and a \"stages\" list whose entries "
      "override them; each stage starts from the best weights of the one before), then the "
      "flags typed. The run directory receives config.json, model.json, log.txt, metrics.csv, "
      "checkpoint.pt (every epoch), best.safetensors, best.pth, predictions.csv and "
      "results.json (docs/training.md).");
  command->add_option("--config", o.config_file, "JSON config file (fields as in config.json)")
      ->check(CLI::ExistingFile);
  command->add_option("--preset", o.preset,
                      "seed-features, seed-finetune (the article's recipes) or fine-tune "
                      "(fastai's fine_tune: one frozen epoch, then discriminative rates)");
  command->add_option("--resume", o.resume, "Continue the run in this directory")
      ->check(CLI::ExistingDirectory);
  add_config_options(*command, o);
  bind_option(*command, o, "--out", &train::TrainConfig::out,
       "Run directory (default runs/MODEL-STRATEGY)");
  command
      ->add_option("--nproc", o.nproc,
                   "Data-parallel on this machine: start N worker processes (torchrun-style "
                   "environment; docs/distributed.md). Without it, a process started with "
                   "WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT joins that job")
      ->check(CLI::Range(1, 1024));
  command->add_option("--dist-backend", o.dist_backend, "auto (gloo on CPU, nccl on CUDA), gloo, nccl")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}));
  command
      ->add_option("--dist-timeout", o.dist_timeout,
                   "Seconds the rendezvous, and any collective, may wait for the other ranks")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  command->callback([options]() { run_train(*options); });
}

void add_lr_find_command(CLI::App& app) {
  auto options = std::make_shared<LrFindCommand>();
  auto* command = app.add_subcommand(
      "lr-find",
      "The learning-rate range test (fastai's lr_find): train from the config's start at a rate "
      "growing exponentially each batch, draw the smoothed loss against it and suggest a rate");
  command->footer(
      "Takes every option of `xfer train` (the same model, weights, data, strategy, head, "
      "optimizer and batch size; --lr, --epochs and the schedule are not used) and writes no "
      "run: OUT/lr_find.png (the curve, the suggestion marked) and OUT/lr_find.csv. The "
      "suggestion is fastai's valley: the middle of the longest stretch where the loss falls. "
      "A fine-tune sweeps every layer it would train, the backbone at --backbone-lr-mult times "
      "the head's rate.");
  command->add_option("--config", options->train.config_file,
                      "JSON config file (fields as in config.json; one stage)")
      ->check(CLI::ExistingFile);
  command->add_option("--preset", options->train.preset,
                      "seed-features, seed-finetune (the article's recipes) or fine-tune "
                      "(fastai's fine_tune)");
  add_config_options(*command, options->train);
  command->add_option("--start-lr", options->sweep.start_lr(), "Rate of the first batch")
      ->capture_default_str();
  command->add_option("--end-lr", options->sweep.end_lr(), "Rate of the last batch")
      ->capture_default_str();
  command->add_option("--iterations", options->sweep.iterations(), "Batches, one rate each")
      ->check(at_least(2))
      ->capture_default_str();
  command->add_flag("--keep-going", options->keep_going,
                    "Sweep every batch, even after the loss exceeds 4 × its lowest");
  command->add_option("--out", options->out,
                      "Folder of lr_find.png and lr_find.csv (default runs/MODEL-lr-find)");
  command->callback([options]() { run_lr_find(*options); });
}

}  // namespace xfer::cli
