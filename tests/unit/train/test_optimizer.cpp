// The parameter plan, the modules' modes and the optimizer of a phase, on a ResNet-20 for two
// classes (head `linear`): which tensors train under each strategy and policy, the optimizer's
// groups and rates, and the check that the two agree.

#include "xfer/core/error.h"
#include "xfer/models/registry.h"
#include "xfer/train/optimizer.h"

#include <gtest/gtest.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

namespace xfer::train {
namespace {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

class Optimizer : public ::testing::Test {
 protected:
  Optimizer() : model_(models::create_model("resnet20", models::ModelOptions().num_classes(2))) {
    config_.model = "resnet20";
  }

  // The keys of the parameters that require gradients, in the model's order.
  std::vector<std::string> trainable() {
    std::vector<std::string> keys;
    for (const auto& item : model_->named_parameters(true)) {
      if (item.value().requires_grad()) keys.push_back(item.key());
    }
    return keys;
  }

  int64_t elements(const std::string& prefix) {
    int64_t n = 0;
    for (const auto& item : model_->named_parameters(true)) {
      if (starts_with(item.key(), prefix)) n += item.value().numel();
    }
    return n;
  }

  models::Classifier model_;
  TrainConfig config_;
};

TEST_F(Optimizer, FrozenBackboneTrainsOnlyTheHead) {
  const ParameterPlan plan = plan_parameters(*model_, config_, /*backbone_frozen=*/true);
  EXPECT_EQ(trainable(), (std::vector<std::string>{"linear.weight", "linear.bias"}));
  EXPECT_EQ(plan.head.size(), 2u);
  EXPECT_TRUE(plan.backbone.empty());
  EXPECT_EQ(plan.trainable, 64 * 2 + 2);
  EXPECT_EQ(plan.total, elements(""));
}

TEST_F(Optimizer, UnfreezeFromTrainsThatModuleAndWhatFollowsIt) {
  config_.strategy = Strategy::kFinetune;
  config_.unfreeze_from = "layer3";
  const ParameterPlan plan = plan_parameters(*model_, config_, /*backbone_frozen=*/false);
  for (const auto& item : model_->named_parameters(true)) {
    const bool expected = starts_with(item.key(), "layer3.") || starts_with(item.key(), "linear.");
    EXPECT_EQ(item.value().requires_grad(), expected) << item.key();
  }
  EXPECT_EQ(plan.trainable, elements("layer3.") + elements("linear."));
  EXPECT_EQ(plan.head.size(), 2u);
  EXPECT_EQ(plan.backbone.size(), trainable().size() - 2);
}

TEST_F(Optimizer, UnfreezeFromAModuleThatIsNotThereNamesTheModulesThatAre) {
  config_.strategy = Strategy::kFinetune;
  config_.unfreeze_from = "layer9";
  try {
    plan_parameters(*model_, config_, /*backbone_frozen=*/false);
    FAIL() << "layer9 was accepted";
  } catch (const InvalidArgument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("no module 'layer9' with parameters in resnet20"), std::string::npos)
        << message;
    EXPECT_NE(message.find("conv1 bn1 layer1 layer2 layer3 linear"), std::string::npos) << message;
  }
}

TEST_F(Optimizer, CheckUnfreezeFromRefusesWhatPlanningWouldAndChangesNothing) {
  config_.strategy = Strategy::kFinetune;
  config_.unfreeze_from = "layer3";
  EXPECT_NO_THROW(check_unfreeze_from(*model_, config_));
  EXPECT_EQ(trainable().size(), model_->named_parameters(true).size());  // all, as created
  config_.unfreeze_from = "layer9";
  EXPECT_THROW(check_unfreeze_from(*model_, config_), InvalidArgument);
  config_.unfreeze_from = "";
  EXPECT_NO_THROW(check_unfreeze_from(*model_, config_));
}

TEST_F(Optimizer, FrozenBatchNormKeepsItsParametersAndStatistics) {
  config_.strategy = Strategy::kFinetune;
  config_.batch_norm = BatchNormPolicy::kFrozen;
  plan_parameters(*model_, config_, /*backbone_frozen=*/false);
  set_modes(*model_, config_);
  for (const auto& item : model_->named_parameters(true)) {
    const bool batch_norm = item.key().find("bn") != std::string::npos;
    EXPECT_EQ(item.value().requires_grad(), !batch_norm) << item.key();
  }
  for (const auto& item : model_->named_modules("", false)) {
    const std::string& key = item.key();
    const bool batch_norm = key.substr(key.rfind('.') + 1, 2) == "bn";  // npos + 1 is 0
    EXPECT_EQ(item.value()->is_training(), !batch_norm) << key;
  }
}

// A Swin's layer norms (blocks' norm1/norm2, patch merging's norm, the final norm) keep their
// scale and shift; everything else of the backbone trains.
TEST(OptimizerLayerNorm, FrozenLayerNormKeepsItsScaleAndShift) {
  auto model = models::create_model("swin_t", models::ModelOptions().num_classes(2));
  TrainConfig config;
  config.model = "swin_t";
  config.strategy = Strategy::kFinetune;
  config.layer_norm = LayerNormPolicy::kFrozen;
  plan_parameters(*model, config, /*backbone_frozen=*/false);
  int64_t frozen = 0;
  for (const auto& item : model->named_parameters(true)) {
    const std::string& key = item.key();
    const std::string module = key.substr(0, key.rfind('.'));
    const std::string leaf = module.substr(module.rfind('.') + 1);  // npos + 1 is 0
    const bool layer_norm = leaf == "norm" || leaf == "norm1" || leaf == "norm2" ||
                            module == "features.0.2";  // the patch embedding's
    EXPECT_EQ(item.value().requires_grad(), !layer_norm) << key;
    frozen += layer_norm;
  }
  // Two per block (24 in 12 blocks), one per patch merging (3), the embedding's and the last:
  // 29 norms of a scale and a shift each.
  EXPECT_EQ(frozen, 2 * 29);
  config.layer_norm = LayerNormPolicy::kTrain;
  plan_parameters(*model, config, /*backbone_frozen=*/false);
  for (const auto& item : model->named_parameters(true)) {
    EXPECT_TRUE(item.value().requires_grad()) << item.key();
  }
}

TEST_F(Optimizer, EvalBatchNormKeepsStatisticsButTrainsItsParameters) {
  config_.strategy = Strategy::kFinetune;
  config_.batch_norm = BatchNormPolicy::kEval;
  plan_parameters(*model_, config_, /*backbone_frozen=*/false);
  set_modes(*model_, config_);
  EXPECT_TRUE(model_->named_parameters(true)["bn1.weight"].requires_grad());
  EXPECT_FALSE(model_->named_modules("", false)["bn1"]->is_training());
  EXPECT_FALSE(model_->named_modules("", false)["layer2.0.bn2"]->is_training());
  EXPECT_TRUE(model_->named_modules("", false)["layer2.0.conv2"]->is_training());
}

TEST_F(Optimizer, AFrozenBackboneKeepsItsStatisticsWhileTheHeadTrains) {
  plan_parameters(*model_, config_, /*backbone_frozen=*/true);
  set_modes(*model_, config_);
  EXPECT_TRUE(model_->is_training());
  EXPECT_TRUE(model_->named_modules("", false)["linear"]->is_training());
  for (const std::string key : {"conv1", "bn1", "layer1", "layer3.2.bn2"}) {
    EXPECT_FALSE(model_->named_modules("", false)[key]->is_training()) << key;
  }
}

TEST_F(Optimizer, SgdGroupsTheHeadThenTheBackboneAtTheirRates) {
  config_.strategy = Strategy::kFinetune;
  config_.optimizer = OptimizerKind::kSgd;
  config_.lr = 0.1;
  config_.backbone_lr_mult = 0.01;
  config_.momentum = 0.9;
  config_.nesterov = true;
  config_.weight_decay = 5e-4;
  const ParameterPlan plan = plan_parameters(*model_, config_, /*backbone_frozen=*/false);
  const PhaseOptimizer made = make_optimizer(config_, plan);
  ASSERT_NE(dynamic_cast<torch::optim::SGD*>(made.optimizer.get()), nullptr);
  EXPECT_EQ(made.base_lrs, (std::vector<double>{0.1, 0.1 * 0.01}));
  const auto& groups = made.optimizer->param_groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].params().size(), plan.head.size());
  EXPECT_EQ(groups[1].params().size(), plan.backbone.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& options = static_cast<const torch::optim::SGDOptions&>(groups[g].options());
    EXPECT_EQ(options.lr(), made.base_lrs[g]);
    EXPECT_EQ(options.momentum(), 0.9);
    EXPECT_TRUE(options.nesterov());
    EXPECT_EQ(options.weight_decay(), 5e-4);
  }
  EXPECT_NO_THROW(check_optimizer(*made.optimizer, *model_));
}

// timm's --layer-decay: one group per block of the backbone, the rate falling by the decay with
// each block away from the head. resnet20's blocks: conv1, bn1, layer1.0 ... layer3.2 (11).
TEST_F(Optimizer, LayerDecayGivesEachBlockItsOwnRate) {
  EXPECT_EQ(block_of("layer1.0.conv1.weight"), "layer1.0");
  EXPECT_EQ(block_of("features.3.conv.0.0.weight"), "features.3");
  EXPECT_EQ(block_of("bn1.weight"), "bn1");
  EXPECT_EQ(block_of("inception3a.branch1.conv.weight"), "inception3a");
  config_.strategy = Strategy::kFinetune;
  config_.optimizer = OptimizerKind::kSgd;
  config_.lr = 0.1;
  config_.backbone_lr_mult = 0.5;
  config_.layer_decay = 0.5;
  const ParameterPlan plan = plan_parameters(*model_, config_, /*backbone_frozen=*/false);
  EXPECT_EQ(plan.layers, 11);
  const PhaseOptimizer made = make_optimizer(config_, plan);
  const auto& groups = made.optimizer->param_groups();
  ASSERT_EQ(groups.size(), 12u);
  ASSERT_EQ(made.base_lrs.size(), 12u);
  EXPECT_EQ(made.base_lrs[0], 0.1);
  std::map<const c10::TensorImpl*, std::string> names;
  for (const auto& item : model_->named_parameters(true)) {
    names[item.value().unsafeGetTensorImpl()] = item.key();
  }
  std::vector<std::string> blocks;
  for (size_t g = 1; g < groups.size(); ++g) {
    // layer g is 12 - g blocks from the head (layer 12)
    EXPECT_DOUBLE_EQ(made.base_lrs[g], 0.1 * 0.5 * std::pow(0.5, 12.0 - static_cast<double>(g)));
    EXPECT_EQ(static_cast<const torch::optim::SGDOptions&>(groups[g].options()).lr(),
              made.base_lrs[g]);
    const std::string block = block_of(names[groups[g].params().front().unsafeGetTensorImpl()]);
    for (const auto& p : groups[g].params()) {
      EXPECT_EQ(block_of(names[p.unsafeGetTensorImpl()]), block) << "group " << g;
    }
    blocks.push_back(block);
  }
  EXPECT_EQ(blocks, (std::vector<std::string>{"conv1", "bn1", "layer1.0", "layer1.1", "layer1.2",
                                              "layer2.0", "layer2.1", "layer2.2", "layer3.0",
                                              "layer3.1", "layer3.2"}));
  EXPECT_NO_THROW(check_optimizer(*made.optimizer, *model_));

  // Training from layer3 on: its three blocks, at the rates they have in the whole backbone.
  config_.unfreeze_from = "layer3";
  const PhaseOptimizer later = make_optimizer(config_, plan_parameters(*model_, config_, false));
  EXPECT_EQ(later.base_lrs, (std::vector<double>{0.1, made.base_lrs[9], made.base_lrs[10],
                                                 made.base_lrs[11]}));
  // lowest_lr_mult 0.01 (fastai's slice(lr/100, lr)): the first block at lr × 0.01 whatever the
  // block count, the decay 0.01^(1/11) a block.
  config_.unfreeze_from.clear();
  config_.layer_decay = 1;
  config_.backbone_lr_mult = 1;
  config_.lowest_lr_mult = 0.01;
  const PhaseOptimizer fastai = make_optimizer(config_, plan_parameters(*model_, config_, false));
  ASSERT_EQ(fastai.base_lrs.size(), 12u);
  EXPECT_NEAR(fastai.base_lrs[1], 0.1 * 0.01, 1e-15);
  EXPECT_NEAR(fastai.base_lrs[11], 0.1 * std::pow(0.01, 1.0 / 11), 1e-15);
  for (size_t g = 2; g < 12; ++g) {
    EXPECT_NEAR(fastai.base_lrs[g] / fastai.base_lrs[g - 1], std::pow(0.01, -1.0 / 11), 1e-12);
  }
  config_.lowest_lr_mult = 0;
  // 1 is off: two groups, as without it.
  config_.layer_decay = 1;
  EXPECT_EQ(make_optimizer(config_, plan_parameters(*model_, config_, false)).base_lrs.size(), 2u);
}

TEST_F(Optimizer, AFrozenBackboneGivesAdamWOneGroup) {
  config_.optimizer = OptimizerKind::kAdamW;
  config_.lr = 3e-3;
  config_.weight_decay = 0.05;
  const PhaseOptimizer made = make_optimizer(config_, plan_parameters(*model_, config_, true));
  ASSERT_NE(dynamic_cast<torch::optim::AdamW*>(made.optimizer.get()), nullptr);
  EXPECT_EQ(made.base_lrs, (std::vector<double>{3e-3}));
  const auto& groups = made.optimizer->param_groups();
  ASSERT_EQ(groups.size(), 1u);
  const auto& options = static_cast<const torch::optim::AdamWOptions&>(groups[0].options());
  EXPECT_EQ(options.lr(), 3e-3);
  EXPECT_EQ(options.weight_decay(), 0.05);
}

TEST_F(Optimizer, CheckNamesAParameterThatTrainsOutsideTheOptimizer) {
  const PhaseOptimizer made = make_optimizer(config_, plan_parameters(*model_, config_, true));
  EXPECT_NO_THROW(check_optimizer(*made.optimizer, *model_));
  model_->named_parameters(true)["layer2.1.conv1.weight"].set_requires_grad(true);
  try {
    check_optimizer(*made.optimizer, *model_);
    FAIL() << "a trainable parameter outside the optimizer passed the check";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("'layer2.1.conv1.weight' (requires_grad true)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace xfer::train
