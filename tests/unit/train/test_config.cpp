// The training configuration (and a data-parallel worker's share of it), the head specs and the
// learning-rate schedules.

#include "xfer/core/cpus.h"
#include "xfer/core/error.h"
#include "xfer/models/registry.h"
#include "xfer/train/config.h"
#include "xfer/train/head.h"
#include "xfer/train/schedule.h"
#include "xfer/train/worker.h"
#include "xfer/weights/load.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace xfer::train {
namespace {

TrainConfig valid() {
  TrainConfig c;
  c.out = "runs/x";
  return c;
}

TEST(TrainConfig, JsonRoundTripKeepsEveryField) {
  TrainConfig c = valid();
  c.model = "mobilenet_v2";
  c.classes = {"ants", "bees"};
  c.strategy = Strategy::kFinetune;
  c.batch_norm = BatchNormPolicy::kFrozen;
  c.lr = 0.125;
  c.seed = 7;
  c.unfreeze_from = "features.14";
  c.ema_decay = 0.998;
  const TrainConfig back = apply_json(TrainConfig{}, to_json(c), "test");
  EXPECT_EQ(to_json(back), to_json(c));
  EXPECT_EQ(back.strategy, Strategy::kFinetune);
  EXPECT_EQ(back.classes, c.classes);
}

TEST(TrainConfig, AWorkerTakesItsShareOfTheMachineAndKeepsWhatWasSet) {
  dist::World world;
  world.size = 4;
  world.local_size = 2;
  world.local_rank = 1;
  TrainConfig config;  // threads and workers 0: all
  config.device = "cpu";
  const TrainConfig shared = worker_config(config, world);
  const int64_t share = std::max<int64_t>(1, usable_cpus() / 2);
  EXPECT_EQ(shared.threads, share);
  EXPECT_EQ(shared.workers, share);
  EXPECT_EQ(shared.device, "cpu");
  config.threads = 3;
  config.workers = 5;
  const TrainConfig kept = worker_config(config, world);
  EXPECT_EQ(kept.threads, 3);
  EXPECT_EQ(kept.workers, 5);
  world.local_size = 1024;  // more workers than CPUs: one thread each, not 0
  EXPECT_EQ(worker_config(TrainConfig{}, world).threads, 1);
}

TEST(TrainConfig, UnknownFieldIsNamed) {
  try {
    apply_json(valid(), R"({"epochz": 3})", "my.json");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("my.json: unknown field 'epochz'"), std::string::npos)
        << e.what();
  }
}

TEST(TrainConfig, WrongTypeAndMalformedJson) {
  EXPECT_THROW(apply_json(valid(), R"({"epochs": "many"})", "f"), InvalidArgument);
  EXPECT_THROW(apply_json(valid(), R"({"epochs": )", "f"), FormatError);
  EXPECT_THROW(apply_json(valid(), R"([1, 2])", "f"), FormatError);
}

TEST(TrainConfig, StagesOverrideTheTopLevel) {
  const auto stages = configs_from_file_text(
      valid(), R"({"model": "resnet20", "epochs": 4, "stages": [{"classes": ["0", "1"]},
                {"epochs": 2, "strategy": "finetune"}]})",
      "f");
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0].model, "resnet20");
  EXPECT_EQ(stages[0].epochs, 4);
  EXPECT_EQ(stages[0].classes, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(stages[1].epochs, 2);
  EXPECT_EQ(stages[1].strategy, Strategy::kFinetune);
  EXPECT_THROW(configs_from_file_text(valid(), R"({"stages": []})", "f"), InvalidArgument);
}

TEST(TrainConfig, ChainedStagesTrainInStageFoldersEachFromTheOneBefore) {
  TrainConfig first = valid();
  first.weights = "imagenet";
  TrainConfig later = valid();
  later.weights = "none";
  later.out = "ignored";
  const auto chained = chain_stages({first, later, later}, "runs/r");
  ASSERT_EQ(chained.size(), 3u);
  EXPECT_EQ(chained[0].out, "runs/r/stage-1");
  EXPECT_EQ(chained[0].weights, "imagenet");
  EXPECT_EQ(chained[1].out, "runs/r/stage-2");
  EXPECT_EQ(chained[1].weights, "runs/r/stage-1");
  EXPECT_EQ(chained[2].out, "runs/r/stage-3");
  EXPECT_EQ(chained[2].weights, "runs/r/stage-2");

  TrainConfig alone = valid();
  alone.out = "";
  EXPECT_EQ(chain_stages({alone}, "runs/r").front().out, "runs/r");
  alone.out = "mine";
  EXPECT_EQ(chain_stages({alone}, "runs/r").front().out, "mine");
  EXPECT_EQ(chain_stages({alone}, "runs/r").front().weights, alone.weights);
}

TEST(TrainConfig, ValidateNamesTheField) {
  const auto message = [](TrainConfig c) {
    try {
      validate(c);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  TrainConfig c = valid();
  c.epochs = 0;
  EXPECT_EQ(message(c), "epochs: expected at least 1, got 0");
  c = valid();
  c.unfreeze_from = "layer3";
  EXPECT_NE(message(c).find("unfreeze_from"), std::string::npos);
  c = valid();
  c.val_fraction = 0;
  EXPECT_NE(message(c).find("val_fraction"), std::string::npos);
  c = valid();
  c.accumulate = 0;
  EXPECT_EQ(message(c), "accumulate: expected at least 1 batch a step, got 0");
  c = valid();
  c.layer_decay = 1.5;
  EXPECT_EQ(message(c), "layer_decay: expected a factor in (0, 1], got 1.5");
  c = valid();
  c.lowest_lr_mult = 0.01;
  c.layer_decay = 0.8;
  EXPECT_EQ(message(c),
            "lowest_lr_mult: expected layer_decay 1 with it (it sets each block's decay), got "
            "layer_decay 0.8");
  c = valid();
  c.ema_decay = 1;
  EXPECT_EQ(message(c), "ema_decay: expected a decay in [0, 1) (0: off), got 1.0");
  // A bad transform spec is refused before any run directory is made.
  c = valid();
  c.train_transform = "hflip,blur=3";
  EXPECT_EQ(message(c).rfind("train_transform: expected eval, augment, trivial or a transform "
                             "spec; transform spec 'hflip,blur=3': unknown step 'blur'",
                             0),
            0u)
      << message(c);
  // An image the model cannot take is refused before the first batch fails in a pooling layer.
  c = valid();
  c.model = "alexnet";
  c.image_size = 32;
  EXPECT_EQ(message(c),
            "image_size: expected at least 63 px for alexnet (the smallest input it takes), got "
            "32");
  c.image_size = 63;
  EXPECT_EQ(message(c), "no error");
  // MaxViT's partitions need every block's grid to be a multiple of 7.
  c.model = "maxvit_t";
  c.image_size = 256;
  EXPECT_EQ(message(c), "image_size: expected a multiple of 224 px for maxvit_t, got 256");
  c.image_size = 448;
  EXPECT_EQ(message(c), "no error");
  c = valid();
  for (const char* ok : {"eval", "augment", "trivial", "trivial_augment,random_erasing=0.2"}) {
    c.train_transform = ok;
    EXPECT_EQ(message(c), "no error") << ok;
  }
  EXPECT_EQ(message(valid()), "no error");
}

// The enum fields: a config file spells them, an unknown spelling is refused naming the choices
// (before, an unknown optimizer became SGD and an unknown schedule constant, silently).
TEST(TrainConfig, EnumFieldsAreSpeltAndUnknownSpellingsRefused) {
  const TrainConfig c = apply_json(valid(), R"({"optimizer": "adamw", "schedule": "onecycle",
      "precision": "bf16", "batch_norm": "frozen", "layer_norm": "frozen",
      "strategy": "finetune"})", "f.json");
  EXPECT_EQ(c.optimizer, OptimizerKind::kAdamW);
  EXPECT_EQ(c.schedule, ScheduleKind::kOneCycle);
  EXPECT_EQ(c.precision, PrecisionChoice::kBf16);
  EXPECT_EQ(c.batch_norm, BatchNormPolicy::kFrozen);
  EXPECT_EQ(c.layer_norm, LayerNormPolicy::kFrozen);
  EXPECT_EQ(c.strategy, Strategy::kFinetune);
  const TrainConfig back = apply_json(TrainConfig(), to_json(c), "config.json");
  EXPECT_EQ(to_json(back), to_json(c));
  EXPECT_EQ(spellings<OptimizerKind>(), (std::vector<std::string>{"adam", "adamw", "sgd"}));
  EXPECT_EQ(spellings<ScheduleKind>(),
            (std::vector<std::string>{"constant", "step", "cosine", "onecycle", "fastai"}));
  EXPECT_EQ(spellings<PrecisionChoice>(), (std::vector<std::string>{"auto", "fp32", "bf16"}));
  const auto refusal = [](const std::string& json) {
    try {
      apply_json(valid(), json, "f.json");
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(refusal(R"({"optimizer": "lbfgs"})"), "f.json: optimizer: expected adam, adamw or sgd, got 'lbfgs'");
  EXPECT_EQ(refusal(R"({"schedule": "linear"})"),
            "f.json: schedule: expected constant, step, cosine, onecycle or fastai, got 'linear'");
  EXPECT_EQ(refusal(R"({"precision": "fp16"})"), "f.json: precision: expected auto, fp32 or bf16, got 'fp16'");
  EXPECT_NE(refusal(R"({"optimizer": 3})").find("field 'optimizer': wrong type"), std::string::npos);
}

TEST(TrainConfig, PresetsAreTheArticlesRecipes) {
  const TrainConfig f = apply_preset(valid(), "seed-features");
  EXPECT_EQ(f.model, "resnet18");
  EXPECT_EQ(f.strategy, Strategy::kFeatures);
  EXPECT_EQ(f.head, "mlp:512,256");
  EXPECT_DOUBLE_EQ(f.dropout, 0.4);
  EXPECT_DOUBLE_EQ(f.lr, 1e-4);
  EXPECT_DOUBLE_EQ(f.weight_decay, 1e-5);
  EXPECT_EQ(f.batch_size, 32);
  EXPECT_EQ(f.epochs, 20);
  EXPECT_EQ(f.image_size, 224);
  const TrainConfig t = apply_preset(valid(), "seed-finetune");
  EXPECT_EQ(t.strategy, Strategy::kFinetune);
  EXPECT_EQ(t.head, "linear");
  EXPECT_EQ(t.epochs, 30);
  EXPECT_TRUE(t.unfreeze_from.empty());
  EXPECT_THROW(apply_preset(valid(), "seed"), InvalidArgument);
  // fastai's fine_tune(4) on the model and data given.
  const TrainConfig fastai = apply_preset(valid(), "fine-tune");
  EXPECT_EQ(fastai.model, valid().model);
  EXPECT_EQ(fastai.strategy, Strategy::kFinetune);
  EXPECT_EQ(fastai.optimizer, OptimizerKind::kAdamW);
  EXPECT_DOUBLE_EQ(fastai.weight_decay, 0.01);
  EXPECT_DOUBLE_EQ(fastai.lr, 1e-3);
  EXPECT_EQ(fastai.schedule, ScheduleKind::kFastai);
  EXPECT_EQ(fastai.freeze_epochs, 1);
  EXPECT_EQ(fastai.epochs, 5);
  EXPECT_DOUBLE_EQ(fastai.lowest_lr_mult, 0.01);
  EXPECT_NO_THROW(validate(fastai));
}

TEST(Head, SpecsParseAndBadOnesAreRefused) {
  EXPECT_TRUE(parse_head("linear").empty());
  EXPECT_EQ(parse_head("mlp:512,256"), (std::vector<int64_t>{512, 256}));
  for (const char* bad : {"mlp:", "mlp:0", "mlp:12,", "mlp:a", "conv", "mlp:5x"}) {
    EXPECT_THROW(parse_head(bad), InvalidArgument) << bad;
  }
}

TEST(Head, MlpHeadHasPythonsSequentialKeys) {
  auto model = models::create_model("resnet18", models::ModelOptions().num_classes(10));
  set_head(*model, "mlp:512,256", 10, 0.4);
  std::vector<std::string> keys;
  for (const auto& item : weights::state_dict_of(*model)) {
    if (item.key().rfind("fc.", 0) == 0) keys.push_back(item.key());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"fc.0.weight", "fc.0.bias", "fc.3.weight", "fc.3.bias",
                                            "fc.6.weight", "fc.6.bias"}));
  const auto logits = model->classify(torch::zeros({2, 512}));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(Schedule, FactorsFollowTheirDefinitions) {
  Schedule s;
  s.steps_per_epoch = 10;
  s.total_steps = 100;
  EXPECT_DOUBLE_EQ(s.factor(0), 1.0);
  s.kind = ScheduleKind::kStep;
  s.step_epochs = 3;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.factor(29), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(30), 0.5);
  EXPECT_DOUBLE_EQ(s.factor(60), 0.25);
  s.kind = ScheduleKind::kCosine;
  s.warmup_epochs = 1;
  EXPECT_DOUBLE_EQ(s.factor(0), 0.1);
  EXPECT_DOUBLE_EQ(s.factor(9), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(10), 1.0);
  EXPECT_NEAR(s.factor(55), 0.5, 1e-12);
  EXPECT_NEAR(s.factor(100), 0.0, 1e-12);
  s.kind = ScheduleKind::kOneCycle;
  EXPECT_NEAR(s.factor(0), 1.0 / 25, 1e-12);
  EXPECT_NEAR(s.factor(29), 1.0, 1e-12);
  EXPECT_NEAR(s.factor(99), 1.0 / 25 / 1e4, 1e-12);
  for (int64_t step = 1; step < 29; ++step) EXPECT_GT(s.factor(step), s.factor(step - 1));
  // fastai's fine_tune: 2 × a cycle over the 10 frozen steps from 2/25 (pct_start 0.99, so
  // rising all along), then a cycle over the other 90 from 1/5 up to 1 at 30 % and down to
  // 1e-5.
  s.kind = ScheduleKind::kFastai;
  s.frozen_steps = 10;
  EXPECT_NEAR(s.factor(0), 2.0 / 25, 1e-12);
  for (int64_t step = 1; step < 10; ++step) EXPECT_GT(s.factor(step), s.factor(step - 1));
  EXPECT_NEAR(s.factor(10), 1.0 / 5, 1e-12);
  EXPECT_NEAR(s.factor(37), 1.0, 1e-12);  // (37 - 10) / 90 = 0.3
  for (int64_t step = 11; step <= 37; ++step) EXPECT_GT(s.factor(step), s.factor(step - 1));
  for (int64_t step = 38; step < 100; ++step) EXPECT_LT(s.factor(step), s.factor(step - 1));
  // combined_cos's second half at position 89/90: 1e-5 + (1 − 1e-5)(1 + cos(π t))/2.
  const double t = (89.0 / 90 - 0.3) / 0.7;
  EXPECT_NEAR(s.factor(99), 1e-5 + (1 - 1e-5) * 0.5 * (1 + std::cos(3.14159265358979323846 * t)),
              1e-12);
}

}  // namespace
}  // namespace xfer::train
