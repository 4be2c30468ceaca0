// The trainer's behaviour on real data (Debian's Fashion-MNIST, a few images a class) with the
// small CIFAR ResNet-20: what frozen means, that it can learn, which parameters it trains, early
// stopping, and that a resumed run is the uninterrupted one.

#include "support/paths.h"
#include "unit/train/fixture.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/core/runtime.h"
#include "xfer/models/registry.h"
#include "xfer/run/files.h"
#include "xfer/train/trainer.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/load.h"
#include "xfer/weights/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace xfer::train {
namespace {

namespace fs = std::filesystem;

TEST_F(Trainer, FeatureExtractionLeavesTheBackboneBitIdentical) {
  const auto initial = read(initial_weights());
  // Cached features, then the loader, then torchvision's reference augmentation.
  for (const std::string transform : {"eval", "hflip", "trivial"}) {
    TrainConfig c = config("features-" + transform);
    c.weights = (dir_ / "initial.safetensors").string();
    c.train_transform = transform;
    c.head = "mlp:16";
    c.epochs = 3;
    const TrainResult result = train(c);
    ASSERT_EQ(result.epochs.size(), 3u);
    const auto best = read(fs::path(c.out) / "best.safetensors");
    int64_t compared = 0;
    for (const auto& item : initial) {
      if (item.key().rfind("linear.", 0) == 0) continue;
      const auto* after = best.find(item.key());
      ASSERT_NE(after, nullptr) << item.key();
      EXPECT_TRUE(bit_equal(item.value(), *after)) << transform << ": " << item.key() << " moved";
      ++compared;
    }
    EXPECT_GT(compared, 60);  // the running statistics and counters of every batch norm too
    EXPECT_EQ(result.trainable_parameters, 64 * 16 + 16 + 16 * 2 + 2);
  }
}

TEST_F(Trainer, FeaturesAreComputedOnceAndThenReadFromTheCache) {
  initial_weights();
  std::string first_log;
  for (const std::string name : {"a", "b"}) {
    TrainConfig c = config(name);
    c.weights = (dir_ / "initial.safetensors").string();
    std::string log;
    TrainEvents events;
    events.log = [&log](const std::string& line) { log += line + "\n"; };
    train(c, events);
    if (name == "a") {
      EXPECT_NE(log.find("features: computed once"), std::string::npos) << log;
      first_log = log;
    } else {
      EXPECT_NE(log.find("features: read from"), std::string::npos) << log;
      EXPECT_EQ(read_file(fs::path(config("a").out) / "metrics.csv").substr(0, 40),
                read_file(fs::path(c.out) / "metrics.csv").substr(0, 40));
    }
  }
}

// `c` made to fit 8 images of two classes, the whole network, 40 epochs of one batch.
TrainConfig overfitting(TrainConfig c) {
  c.strategy = Strategy::kFinetune;
  c.classes = {"Shirt", "T-shirt/top"};
  c.per_class = 8;
  c.batch_size = 16;
  c.epochs = 40;
  c.lr = 1e-2;
  return c;
}

TEST_F(Trainer, OverfitsATinyTrainingSet) {
  const TrainResult result = train(overfitting(config("overfit")));
  EXPECT_LT(result.epochs.back().train_loss, 0.05);
  EXPECT_EQ(result.epochs.back().train_acc, 1.0);
}

// --precision bf16 autocasts every training step: from the same weights its first loss is not
// fp32's bit for bit but within a few percent, and it learns the tiny set as fp32 does. Run where
// the CPU computes bf16 natively (an AVX2 CPU emulates it ~30x slower, and `auto` keeps fp32).
TEST_F(Trainer, Bf16TrainingAutocastsEachStepAndLearnsAsFp32Does) {
  if (!has_native_bf16(c10::Device(c10::kCPU))) GTEST_SKIP() << "no native bf16 on this CPU";
  std::vector<TrainResult> runs;
  for (const auto precision : {PrecisionChoice::kFp32, PrecisionChoice::kBf16}) {
    TrainConfig c = overfitting(config(precision == PrecisionChoice::kBf16 ? "bf16" : "fp32"));
    c.precision = precision;
    runs.push_back(train(c));
  }
  const double fp32_first = runs[0].epochs.front().train_loss;
  const double bf16_first = runs[1].epochs.front().train_loss;
  EXPECT_NE(bf16_first, fp32_first);
  EXPECT_NEAR(bf16_first, fp32_first, 0.05 * fp32_first);
  EXPECT_LT(runs[1].epochs.back().train_loss, 0.1);
  EXPECT_EQ(runs[1].epochs.back().train_acc, 1.0);
}

TEST_F(Trainer, UnfreezeFromTrainsExactlyTheLaterBlocks) {
  const auto initial = read(initial_weights());
  TrainConfig c = config("unfreeze");
  c.weights = (dir_ / "initial.safetensors").string();
  c.strategy = Strategy::kFinetune;
  c.unfreeze_from = "layer3";
  c.epochs = 1;
  c.lr = 1e-2;
  const TrainResult result = train(c);
  int64_t expected = 0;
  for (const auto& item : initial) {
    const bool trains = item.key().rfind("layer3.", 0) == 0 || item.key().rfind("linear.", 0) == 0;
    if (trains && item.value().is_floating_point() && item.key().find("running") == std::string::npos) {
      expected += item.value().numel();
    }
  }
  EXPECT_EQ(result.trainable_parameters, expected);
  const auto best = read(fs::path(c.out) / "best.safetensors");
  for (const auto& item : initial) {
    const bool early = item.key().rfind("layer3.", 0) != 0 && item.key().rfind("linear.", 0) != 0;
    if (early) {
      EXPECT_TRUE(bit_equal(item.value(), *best.find(item.key()))) << item.key() << " moved";
    } else if (item.key().find("weight") != std::string::npos) {
      EXPECT_FALSE(bit_equal(item.value(), *best.find(item.key()))) << item.key() << " did not train";
    }
  }
}

TEST_F(Trainer, UnknownUnfreezeFromNamesTheModules) {
  TrainConfig c = config("bad");
  c.strategy = Strategy::kFinetune;
  c.unfreeze_from = "layer9";
  try {
    train(c);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("no module 'layer9'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("layer3"), std::string::npos) << e.what();
  }
}

TEST_F(Trainer, PatienceStopsARunThatNoLongerImproves) {
  TrainConfig c = config("patience");
  c.lr = 1e-30;  // the head cannot move in float32: every epoch ties with the first
  c.epochs = 10;
  c.patience = 2;
  const TrainResult result = train(c);
  EXPECT_TRUE(result.stopped_early);
  EXPECT_EQ(result.epochs.size(), 3u);
  EXPECT_EQ(result.best_epoch, 1);
}

// The largest |a - b| over every tensor of two weight files, relative to each tensor's largest
// magnitude.
double worst_relative_difference(const fs::path& a, const fs::path& b) {
  const auto x = read(a);
  const auto y = read(b);
  double worst = 0;
  for (const auto& item : x) {
    const auto* other = y.find(item.key());
    if (other == nullptr || item.value().numel() == 0) {
      ADD_FAILURE() << "missing or empty: " << item.key();
      continue;
    }
    const auto v = item.value().to(torch::kDouble);
    const double scale = std::max(v.abs().max().item<double>(), 1e-12);
    worst = std::max(worst, (other->to(torch::kDouble) - v).abs().max().item<double>() / scale);
  }
  return worst;
}

// --accumulate 4 with batches of 3 steps as batches of 12 do, the last group of an epoch (32
// samples: 12, 12, 8) shorter, where nothing depends on the batch: cached features and the
// linear head; a fine-tune with batch norm in eval mode. SGD, whose step is linear in the
// gradient (the two sum a batch's gradient in a different order, a float32 rounding apart), from
// a network trained ten epochs (badly conditioned starts amplify the rounding: from 4 epochs
// the fine-tune differed by 2e-5; from 10, 7e-8, measured without label smoothing). Batches of
// 3 without accumulation train something else: 5e-2 apart.
TEST_F(Trainer, AccumulatedBatchesStepAsOneBatchOfTheirSize) {
  TrainConfig start = config("start");
  start.strategy = Strategy::kFinetune;
  start.epochs = 10;
  start.lr = 0.02;
  start.optimizer = OptimizerKind::kSgd;
  train(start);
  for (const std::string strategy : {"features", "finetune"}) {
    auto run = [&](int64_t batch, int64_t accumulate) {
      TrainConfig c = config(strategy + "-" + std::to_string(batch) + "x" +
                             std::to_string(accumulate));
      c.weights = start.out;
      c.strategy = parse_spelling<Strategy>("strategy", strategy);
      c.batch_norm = BatchNormPolicy::kEval;
      c.optimizer = OptimizerKind::kSgd;
      c.lr = 2e-3;
      c.schedule = ScheduleKind::kCosine;  // the rate of each step depends on the steps an epoch
      // The start can be near a zero loss (ATen's default kernels got there): smoothed targets
      // keep the gradients away from zero, so the runs move and the control below can tell.
      c.label_smoothing = 0.1;
      c.batch_size = batch;
      c.accumulate = accumulate;
      c.epochs = 2;
      const TrainResult result = train(c);
      EXPECT_EQ(result.epochs.size(), 2u);
      // Not diverged (a badly conditioned start ran into the thousands). The overconfident start
      // makes the first smoothed steps large: 0.96 here, 2.13 under ATEN_CPU_CAPABILITY=default.
      EXPECT_LT(result.epochs.back().train_loss, 10.0) << c.out;
      return fs::path(c.out);
    };
    const fs::path big = run(12, 1);
    const fs::path accumulated = run(3, 4);
    const fs::path small = run(3, 1);
    EXPECT_NE(read_file(accumulated / "log.txt").find("gradient accumulation: 4 batches of 3 a "
                                                      "step (3 steps an epoch)"),
              std::string::npos);
    const double same = worst_relative_difference(big / "best.safetensors",
                                                  accumulated / "best.safetensors");
    const double other = worst_relative_difference(big / "best.safetensors",
                                                   small / "best.safetensors");
    EXPECT_LT(same, 1e-5) << strategy;
    EXPECT_GT(other, 100 * 1e-5) << strategy;
    const auto a = run::read_metrics(big / "metrics.csv");
    const auto b = run::read_metrics(accumulated / "metrics.csv");
    ASSERT_EQ(a.size(), b.size());
    for (size_t e = 0; e < a.size(); ++e) {
      EXPECT_NEAR(a[e].train_loss, b[e].train_loss, 1e-4 * a[e].train_loss) << strategy;
      EXPECT_EQ(a[e].train_acc, b[e].train_acc) << strategy;
      EXPECT_EQ(a[e].lr, b[e].lr) << strategy;
    }
  }
}

// fastai's valley on a curve that falls for 15 points and then rises: of the 20 iterations the
// first 2 and the last 5 points are trimmed, leaving 13 falling ones (indices 2..14); the
// longest decreasing run covers them all (from "-1", as fastai counts), 13 / 3 = 4.33 sections:
// -1 + 4 + 2 = 5 points in, index 7.
TEST(LrValley, IsFastaisSuggestion) {
  std::vector<double> losses;
  for (int i = 0; i < 15; ++i) losses.push_back(10.0 - i);
  for (int i = 0; i < 5; ++i) losses.push_back(6.0 + i);
  EXPECT_EQ(lr_valley(losses, 20), 7u);
  // The last 5 trimmed, 3 2 1 5 4 0.5 6 remain: the longest decreasing subsequence is 3 2 1 0.5,
  // which fastai spans from index 1 to 5: 4 / 3 = 1.33 sections, 1 + 1 + 0 = index 2.
  EXPECT_EQ(lr_valley({3, 2, 1, 5, 4, 0.5, 6, 9, 9, 9, 9, 9}, 0), 2u);
  EXPECT_EQ(lr_valley({1}, 100), 0u);
  EXPECT_THROW(lr_valley({}, 100), InvalidArgument);
  EXPECT_THROW(validate(LrFindOptions().start_lr(1).end_lr(0.1)), InvalidArgument);
  EXPECT_THROW(validate(LrFindOptions().iterations(1)), InvalidArgument);
}

// The sweep of a feature extraction: exponential rates from start_lr, a loss that diverges
// (Adam up to 10) and stops the sweep, nothing written; and the suggested rate trains better in
// three epochs than the sweep's first rate does.
TEST_F(Trainer, TheLearningRateFinderSuggestsARateThatTrains) {
  TrainConfig c = config("lr-find");
  c.weights = initial_weights().string();
  c.precision = PrecisionChoice::kFp32;
  // Adam's steps are about the rate: up to 1e4 the head's weights run away on any CPU's kernels
  // (to 10 a start whose loss was already 26 under DNNL_MAX_CPU_ISA=AVX2 did not diverge).
  const auto sweep = find_lr(c, LrFindOptions().start_lr(1e-5).end_lr(1e4).iterations(60));
  EXPECT_FALSE(fs::exists(c.out));
  ASSERT_GE(sweep.lrs.size(), 10u);
  ASSERT_EQ(sweep.lrs.size(), sweep.losses.size());
  EXPECT_DOUBLE_EQ(sweep.lrs.front(), 1e-5);
  const double ratio = std::pow(1e9, 1.0 / 59);
  for (size_t i = 1; i < sweep.lrs.size(); ++i) {
    EXPECT_NEAR(sweep.lrs[i] / sweep.lrs[i - 1], ratio, 1e-9) << i;
  }
  EXPECT_TRUE(sweep.diverged);
  EXPECT_LT(sweep.lrs.size(), 60u);
  EXPECT_GT(sweep.losses.back(), 4 * *std::min_element(sweep.losses.begin(), sweep.losses.end()));
  ASSERT_LT(sweep.valley, sweep.lrs.size());
  const double suggested = sweep.lrs[sweep.valley];
  EXPECT_GT(suggested, 1e-5);
  EXPECT_LT(suggested, sweep.lrs.back());

  const auto val_loss = [&](const std::string& name, double lr) {
    TrainConfig t = c;
    t.out = (dir_ / name).string();
    t.lr = lr;
    t.epochs = 3;
    return train(t).epochs.back().val_loss;
  };
  EXPECT_LT(val_loss("at-valley", suggested), val_loss("at-start", 1e-5));

  // A fine-tune sweeps too (every layer in the optimizer), and stops at its iterations.
  c.strategy = Strategy::kFinetune;
  const auto whole = find_lr(c, LrFindOptions().start_lr(1e-6).end_lr(1e-4).iterations(6));
  EXPECT_EQ(whole.lrs.size(), 6u);
  EXPECT_FALSE(whole.diverged);
  EXPECT_DOUBLE_EQ(whole.lrs.back(), 1e-4);
}

// A run started from another run keeps its head only for the same classes: the demo's stage 2
// learns 5 other classes than stage 1 did, and a kept head started it confidently wrong (13 % on
// 5 classes). With a learning rate too small to move anything, the best weights' head is the one
// the run started with.
TEST_F(Trainer, ARunFromARunKeepsTheHeadOnlyForTheSameClasses) {
  TrainConfig first = config("first");
  first.epochs = 1;
  train(first);
  const std::string head = models::create_model("resnet20")->head_path() + ".weight";
  const at::Tensor trained_head = read(fs::path(first.out) / "best.safetensors")[head];

  auto from_first = [&](const std::string& name, std::vector<std::string> classes) {
    TrainConfig c = config(name);
    c.weights = first.out;
    c.strategy = Strategy::kFeatures;
    c.classes = std::move(classes);
    c.lr = 1e-30;
    c.epochs = 1;
    train(c);
    return read(fs::path(c.out) / "best.safetensors")[head];
  };
  EXPECT_TRUE(bit_equal(from_first("same", {"Trouser", "Bag"}), trained_head));
  EXPECT_FALSE(torch::allclose(from_first("other", {"Sneaker", "Shirt"}), trained_head));
  EXPECT_NE(read_file(dir_ / "other" / "log.txt").find("the previous run's classes differ"),
            std::string::npos);
  EXPECT_FALSE(torch::allclose(from_first("reordered", {"Bag", "Trouser"}), trained_head));
}

TEST_F(Trainer, AnExistingRunIsNotOverwritten) {
  TrainConfig c = config("twice");
  c.epochs = 1;
  train(c);
  EXPECT_THROW(train(c), InvalidArgument);
}

// Stops a run after `epochs` epochs as a crash would (the checkpoint of that epoch is written).
struct Interrupt {};

void expect_same_run(const TrainConfig& c, const fs::path& uninterrupted) {
  const auto a = run::read_metrics(uninterrupted / "metrics.csv");
  const auto b = run::read_metrics(fs::path(c.out) / "metrics.csv");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].train_loss, b[i].train_loss) << "epoch " << i + 1;
    EXPECT_EQ(a[i].val_loss, b[i].val_loss) << "epoch " << i + 1;
    EXPECT_EQ(a[i].train_acc, b[i].train_acc) << "epoch " << i + 1;
    EXPECT_EQ(a[i].ema_val_loss, b[i].ema_val_loss) << "epoch " << i + 1;
  }
  EXPECT_EQ(read_file(uninterrupted / "best.safetensors"),
            read_file(fs::path(c.out) / "best.safetensors"));
  EXPECT_EQ(read_file(uninterrupted / "predictions.csv"),
            read_file(fs::path(c.out) / "predictions.csv"));
}

TEST_F(Trainer, AResumedRunEqualsTheUninterruptedOne) {
  // "warmup": a fine-tune whose first epoch trains only the head, so the checkpoint of epoch 1
  // holds fewer tensors than the one of epoch 2.
  for (const std::string strategy : {"features", "finetune", "warmup"}) {
    TrainConfig whole = config(strategy + "-whole");
    whole.strategy = parse_spelling<Strategy>("strategy", strategy == "warmup" ? "finetune" : strategy);
    whole.freeze_epochs = strategy == "warmup" ? 1 : 0;
    whole.epochs = 4;
    whole.head = "mlp:32";
    whole.dropout = 0.5;  // draws from the global generator, which the checkpoint restores
    whole.train_transform = strategy == "finetune" ? "hflip" : "eval";
    whole.schedule = ScheduleKind::kCosine;
    whole.ema_decay = 0.8;  // the average is in the checkpoint too
    // Each batch's mix is drawn from (seed, epoch, batch): the resumed run mixes alike.
    if (strategy == "finetune") whole.cutmix_alpha = 1.0;
    train(whole);

    TrainConfig broken = whole;
    broken.out = (dir_ / (strategy + "-broken")).string();
    TrainEvents events;
    events.epoch_end = [](const run::EpochMetrics& m) {
      if (m.epoch == 2) throw Interrupt{};
    };
    EXPECT_THROW(train(broken, events), Interrupt);
    const TrainResult resumed = resume(broken.out);
    EXPECT_EQ(resumed.epochs.size(), 4u);
    expect_same_run(broken, whole.out);
  }
}

// --mixup/--cutmix: a batch left unmixed trains exactly as without them; mixed batches train on
// soft targets; a features run that mixes computes its features every batch.
TEST_F(Trainer, MixingTrainsOnMixedBatchesAndNeverMixedIsUnchanged) {
  TrainConfig plain = config("mix-plain");
  plain.strategy = Strategy::kFinetune;
  plain.epochs = 2;
  const TrainResult unmixed = train(plain);
  TrainConfig never = plain;
  never.out = (dir_ / "mix-never").string();
  never.mixup_alpha = 0.4;
  never.cutmix_alpha = 1.0;
  never.mix_prob = 0;
  const TrainResult same = train(never);
  TrainConfig always = never;
  always.out = (dir_ / "mix-always").string();
  always.mix_prob = 1;
  const TrainResult mixed = train(always);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(same.epochs[e].train_loss, unmixed.epochs[e].train_loss) << e;
    EXPECT_EQ(same.epochs[e].val_loss, unmixed.epochs[e].val_loss) << e;
    EXPECT_NE(mixed.epochs[e].train_loss, unmixed.epochs[e].train_loss) << e;
  }
  const std::string log = read_file(fs::path(always.out) / "log.txt");
  EXPECT_NE(log.find("mixing: MixUp α 0.4, CutMix α 1, a batch mixed with probability 1, CutMix "
                     "for 0.5 of them; soft targets"),
            std::string::npos)
      << log;

  TrainConfig features = config("mix-features");
  features.mixup_alpha = 0.2;
  train(features);
  const std::string features_log = read_file(fs::path(features.out) / "log.txt");
  EXPECT_NE(features_log.find("features computed every batch (not cached)"), std::string::npos);
  EXPECT_EQ(features_log.find("features: computed once"), std::string::npos) << features_log;
}

// --preset fine-tune (fastai's fine_tune): the frozen epoch rises to twice the rate, the cycle
// restarts when the backbone thaws, and the backbone's 11 blocks train from lr/100 up.
TEST_F(Trainer, TheFineTunePresetIsFastaisTwoCycles) {
  TrainConfig c = apply_preset(config("fastai"), "fine-tune");
  c.epochs = 3;
  const TrainResult result = train(c);
  ASSERT_EQ(result.epochs.size(), 3u);
  Schedule s;
  s.kind = ScheduleKind::kFastai;
  s.steps_per_epoch = 4;  // 32 training images in batches of 8
  s.total_steps = 12;
  s.frozen_steps = 4;
  for (size_t e = 0; e < 3; ++e) {
    // metrics.csv's rate: the head's at the epoch's last step.
    EXPECT_NEAR(result.epochs[e].lr, 1e-3 * s.factor(static_cast<int64_t>(4 * e + 3)), 1e-12) << e;
  }
  EXPECT_GT(result.epochs[0].lr, 1e-3);  // the frozen cycle's peak is near 2 × lr
  const std::string log = read_file(fs::path(c.out) / "log.txt");
  EXPECT_NE(log.find("layer decay 0.658: 11 backbone blocks of 11 train, at rates from 1e-05 to "
                     "0.000658 (head 0.001)"),
            std::string::npos)
      << log;
}

// The keys under `prefix` in a checkpoint, without the prefix.
std::vector<std::string> keys_under(const weights::StateDict& tensors, const std::string& prefix) {
  std::vector<std::string> keys;
  for (const auto& item : tensors) {
    if (item.key().rfind(prefix, 0) == 0) keys.push_back(item.key().substr(prefix.size()));
  }
  return keys;
}

// --ema: after one optimizer step the average is decay × the initial weights + (1 − decay) × the
// stepped ones; only the tensors training moves are averaged and checkpointed; the epoch's best
// weights are the average's exactly when it validates better.
TEST_F(Trainer, TheWeightsMovingAverageIsTimmsAndIsTheBestWhenItValidatesBetter) {
  const auto initial = read(initial_weights());
  const std::string head = models::create_model("resnet20")->head_path();
  for (const double lr : {0.5, 50.0}) {  // a step that helps, and one that overshoots
    TrainConfig c = config("ema-" + std::to_string(static_cast<int>(lr)));
    c.weights = (dir_ / "initial.safetensors").string();
    c.batch_size = 64;  // the 32 training images in one batch: one step an epoch
    c.epochs = 1;
    c.optimizer = OptimizerKind::kSgd;
    c.momentum = 0;
    c.lr = lr;
    c.ema_decay = 0.9;
    train(c);
    const auto checkpoint = weights::read_checkpoint(fs::path(c.out) / "checkpoint.pt").tensors;
    auto keys = keys_under(checkpoint, "ema/");
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(keys, (std::vector<std::string>{head + ".bias", head + ".weight"}));
    const auto rows = run::read_metrics(fs::path(c.out) / "metrics.csv");
    ASSERT_EQ(rows.size(), 1u);
    ASSERT_FALSE(std::isnan(rows[0].ema_val_acc));
    const auto best = read(fs::path(c.out) / "best.safetensors");
    for (const std::string& name : {head + ".weight", head + ".bias"}) {
      const at::Tensor w0 = initial[name];
      const at::Tensor w1 = checkpoint["model/" + name];
      const at::Tensor ema = checkpoint["ema/" + name];
      EXPECT_FALSE(torch::allclose(w0, w1)) << name;
      EXPECT_TRUE(torch::allclose(ema, 0.9 * w0 + 0.1 * w1, 1e-5, 1e-7)) << name;
      EXPECT_TRUE(bit_equal(best[name], run::ema_is_better(rows[0]) ? ema : w1)) << name;
    }
    const std::string log = read_file(fs::path(c.out) / "log.txt");
    EXPECT_NE(log.find("EMA of the weights: decay 0.9"), std::string::npos) << log;
    EXPECT_NE(log.find(", EMA val loss "), std::string::npos) << log;
  }
}

TEST_F(Trainer, ACheckpointHoldsOnlyTheTensorsTrainingMoves) {
  TrainConfig features = config("moving-features");
  features.weights = initial_weights().string();
  train(features);
  const auto frozen = weights::read_checkpoint(fs::path(features.out) / "checkpoint.pt").tensors;
  const std::vector<std::string> head = {"linear.weight", "linear.bias"};  // resnet20's head
  EXPECT_EQ(keys_under(frozen, "model/"), head);
  EXPECT_EQ(keys_under(frozen, "best/"), head);

  TrainConfig finetune = config("moving-finetune");
  finetune.weights = features.weights;
  finetune.strategy = Strategy::kFinetune;
  train(finetune);
  const auto all = weights::read_checkpoint(fs::path(finetune.out) / "checkpoint.pt").tensors;
  auto model = models::create_model("resnet20", models::ModelOptions().num_classes(2));
  EXPECT_EQ(keys_under(all, "model/").size(), weights::state_dict_of(*model).size());
}

TEST_F(Trainer, TheRunDirectoryHoldsWhatThePythonSideReads) {
  TrainConfig c = config("files");
  c.epochs = 1;
  const TrainResult result = train(c);
  for (const char* file : {"config.json", "model.json", "log.txt", "metrics.csv", "checkpoint.pt",
                           "best.safetensors", "best.pth", "predictions.csv", "results.json"}) {
    EXPECT_TRUE(fs::exists(fs::path(c.out) / file)) << file;
  }
  EXPECT_EQ(weights::read_checkpoint(fs::path(c.out) / "best.pth").format, "pth-zip");
  EXPECT_EQ(result.classes, (std::vector<std::string>{"Trouser", "Bag"}));
  EXPECT_EQ(result.test.count, 40);  // per_class 20 of each class's test images
  const auto trained = load_run(c.out);
  EXPECT_EQ(trained.classes, result.classes);
  EXPECT_EQ(run::read_predictions(fs::path(c.out) / "predictions.csv").size(), 40u);
}

}  // namespace
}  // namespace xfer::train
