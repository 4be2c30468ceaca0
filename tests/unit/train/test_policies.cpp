// The trainer's policies, each by what it does to the weights: SGD's Nesterov momentum, AdamW's
// decoupled weight decay, gradient clipping, label smoothing, the batch-norm policies of a
// fine-tune, the batch-norm override of TFLite weights, and GoogLeNet's auxiliary loss. Most
// runs take exactly one optimizer step (16 training images in one batch), whose effect on the
// weights has a closed form.

#include "support/compare.h"
#include "support/paths.h"
#include "unit/train/fixture.h"
#include "xfer/models/registry.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/train/trainer.h"
#include "xfer/weights/load.h"
#include "xfer/weights/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace xfer::train {
namespace {

namespace fs = std::filesystem;
using testing::all_close;

class Policies : public Trainer {
 protected:
  // 10 images a class: 8 train and 2 val each, so the 16 training images make one batch and
  // each epoch is one optimizer step. SGD without momentum unless a test says otherwise.
  TrainConfig one_step(const std::string& name) {
    TrainConfig c = config(name);
    c.weights = initial_.string();
    c.per_class = 10;
    c.batch_size = 16;
    c.epochs = 1;
    c.optimizer = OptimizerKind::kSgd;
    c.momentum = 0;
    c.lr = 0.1;
    return c;
  }

  // The best weights of run `c` minus the initial ones, for the tensor `key`.
  at::Tensor moved(const TrainConfig& c, const std::string& key) {
    const auto after = read(fs::path(c.out) / "best.safetensors");
    const auto before = read(initial_);
    return after.find(key)->to(at::kDouble) - before.find(key)->to(at::kDouble);
  }

  void SetUp() override {
    Trainer::SetUp();
    initial_ = initial_weights();
  }

  fs::path initial_;
};

TEST_F(Policies, NesterovMakesSgdsFirstStepOnePlusMomentumTimesLonger) {
  // The first step of SGD with momentum m takes the gradient g itself (its buffer starts as g);
  // Nesterov's takes g + m·g.
  TrainConfig plain = one_step("plain");
  plain.momentum = 0.9;
  train(plain);
  TrainConfig nesterov = one_step("nesterov");
  nesterov.momentum = 0.9;
  nesterov.nesterov = true;
  train(nesterov);
  for (const char* key : {"linear.weight", "linear.bias"}) {
    const auto step = moved(plain, key);
    ASSERT_GT(step.abs().max().item<double>(), 1e-4) << key;  // the head did move
    // atol: each step is a difference of float32 weights (|θ| < 0.2, an ulp of 1.5e-8), so it
    // carries up to two roundings of that size whatever the kernels.
    EXPECT_TRUE(all_close(moved(nesterov, key), 1.9 * step, 1e-5, 5e-8)) << key;
  }
}

TEST_F(Policies, AdamWDecaysTheWeightsApartFromTheGradientStep) {
  // Adam's first step is lr · sign of its gradient. AdamW subtracts lr · decay · θ beside it;
  // Adam's L2 decay would instead enter the gradient (and vanish inside the sign).
  TrainConfig without = one_step("adamw-0");
  without.optimizer = OptimizerKind::kAdamW;
  without.lr = 1e-3;
  train(without);
  TrainConfig with = without;
  with.out = (dir_ / "adamw-half").string();
  with.weight_decay = 0.5;
  train(with);
  const auto theta = read(initial_).find("linear.weight")->to(at::kDouble);
  const auto decay = moved(with, "linear.weight") - moved(without, "linear.weight");
  // atol: four float32 weights of |θ| < 0.2 (an ulp of 1.5e-8) enter the difference.
  EXPECT_TRUE(all_close(decay, -1e-3 * 0.5 * theta, 1e-5, 1e-7));
}

TEST_F(Policies, ClipGradNormBoundsTheLengthOfTheStep) {
  // Plain SGD at lr 1 moves the trainable parameters (the head) by exactly their gradient, so
  // the step's L2 norm is the gradient's: the clipping bound when it is smaller.
  TrainConfig free = one_step("unclipped");
  free.lr = 1;
  train(free);
  TrainConfig clipped = free;
  clipped.out = (dir_ / "clipped").string();
  clipped.clip_grad_norm = 1e-3;
  train(clipped);
  const auto norm = [this](const TrainConfig& c) {
    const auto w = moved(c, "linear.weight");
    const auto b = moved(c, "linear.bias");
    return std::sqrt((w.pow(2).sum() + b.pow(2).sum()).item<double>());
  };
  ASSERT_GT(norm(free), 10 * 1e-3);  // the gradient is long enough for the clip to act
  EXPECT_NEAR(norm(clipped), 1e-3, 1e-3 * 1e-4);
}

TEST_F(Policies, LabelSmoothingMixesTheLossWithTheUniformTarget) {
  // The smoothed loss is (1 - ε)·CE + ε·mean over classes of -log p: linear in ε. One step, so
  // each run's training loss is the loss of the same initial weights on the same batch.
  std::vector<double> loss;
  for (const double epsilon : {0.0, 0.1, 0.2}) {
    TrainConfig c = one_step("smoothing-" + std::to_string(loss.size()));
    c.label_smoothing = epsilon;
    loss.push_back(train(c).epochs.at(0).train_loss);
  }
  ASSERT_GT(std::abs(loss[1] - loss[0]), 1e-4);  // smoothing changes the loss
  EXPECT_NEAR(loss[2] - loss[0], 2 * (loss[1] - loss[0]), 1e-5 * loss[0]);
}

// The batch-norm tensors of ResNet-20 (bn1, layerN.M.bn1/bn2): statistics and affine parameters.
bool is_statistic(const std::string& key) {
  return key.find("running_") != std::string::npos || key.find("num_batches") != std::string::npos;
}
bool is_batch_norm_key(const std::string& key) {
  return key.rfind("bn", 0) == 0 || key.find(".bn") != std::string::npos;
}

TEST_F(Policies, BatchNormPoliciesOfAFineTuneKeepWhatTheySay) {
  const auto initial = read(initial_);
  for (const auto policy : {BatchNormPolicy::kTrain, BatchNormPolicy::kEval, BatchNormPolicy::kFrozen}) {
    TrainConfig c = one_step("bn-" + spelling(policy));
    c.strategy = Strategy::kFinetune;
    c.batch_norm = policy;
    train(c);
    const auto best = read(fs::path(c.out) / "best.safetensors");
    int64_t statistics = 0;
    int64_t affine = 0;
    for (const auto& item : initial) {
      const std::string& key = item.key();
      const bool same = bit_equal(item.value(), *best.find(key));
      if (!is_batch_norm_key(key)) {
        if (key.find("conv") != std::string::npos) {
          EXPECT_FALSE(same) << key << " did not train";
        }
        continue;
      }
      if (is_statistic(key)) {
        ++statistics;
        // train: every layer's statistics move with the batch; eval and frozen: none does.
        EXPECT_EQ(same, policy != BatchNormPolicy::kTrain) << spelling(policy) << ": " << key;
      } else {
        ++affine;
        // frozen keeps the affine parameters too; train and eval train them.
        EXPECT_EQ(same, policy == BatchNormPolicy::kFrozen) << spelling(policy) << ": " << key;
      }
    }
    EXPECT_EQ(statistics, 19 * 3);  // 19 batch norms: mean, var, num_batches_tracked
    EXPECT_EQ(affine, 19 * 2);
  }
}

TEST_F(Policies, GoogLeNetsAuxiliaryHeadsTrainWhenFineTuning) {
  // aux1 and aux2 feed only the auxiliary losses (weighted 0.3 each, as torchvision's
  // reference training does): they move only if those losses reach the gradient.
  torch::manual_seed(7);
  auto model = models::create_model("googlenet", models::ModelOptions().num_classes(2));
  const fs::path start = dir_ / "googlenet.safetensors";
  weights::write_safetensors(start, weights::state_dict_of(*model));
  TrainConfig c = one_step("googlenet");
  c.model = "googlenet";
  c.weights = start.string();
  c.image_size = 64;
  c.strategy = Strategy::kFinetune;
  c.lr = 0.01;
  train(c);
  const auto before = read(start);
  const auto after = read(fs::path(c.out) / "best.safetensors");
  for (const char* key : {"aux1.fc2.weight", "aux2.fc2.weight", "aux1.conv.conv.weight", "fc.weight"}) {
    ASSERT_NE(before.find(key), nullptr) << key;
    EXPECT_FALSE(bit_equal(*before.find(key), *after.find(key))) << key << " did not train";
  }
}

TEST_F(Policies, TfliteWeightsKeepTheirFoldedBatchNormWhenFineTuning) {
  // The Coral files fold batch norm into the convolutions; the imported model's batch-norm
  // layers are identities (mean 0, variance 1 - eps) that must stay so, whatever --batch-norm
  // says.
  const fs::path tflite =
      testing::shared_dir() / "weights/coral-mobilenet/mobilenet_v1_0.25_128_quant.tflite";
  XFER_REQUIRE_SHARED(tflite);
  TrainConfig c = one_step("tflite");
  c.model = "mobilenet_v1";
  c.weights = tflite.string();
  c.image_size = 128;
  c.strategy = Strategy::kFinetune;
  c.batch_norm = BatchNormPolicy::kTrain;
  c.lr = 1e-3;
  std::string log;
  TrainEvents events;
  events.log = [&log](const std::string& line) { log += line + "\n"; };
  train(c, events);
  EXPECT_NE(log.find("batch norm: eval (TFLite weights"), std::string::npos) << log;
  const auto imported = pretrained::load_pretrained(
      "mobilenet_v1", tflite.string(), pretrained::PretrainedOptions().num_classes(2));
  const auto initial = weights::state_dict_of(*imported.model);
  int64_t statistics = 0;
  for (const auto& item : read(fs::path(c.out) / "best.safetensors")) {
    if (!is_statistic(item.key())) continue;
    ++statistics;
    EXPECT_TRUE(bit_equal(item.value(), *initial.find(item.key()))) << item.key() << " moved";
  }
  EXPECT_GT(statistics, 40);  // mean and variance of the stem's and the 13 blocks' norms
}

}  // namespace
}  // namespace xfer::train
