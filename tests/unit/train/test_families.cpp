// Every family of the zoo trains by both strategies: one epoch of two steps of feature extraction
// and of fine-tuning on eight Fashion-MNIST images at 32 px (or the model's minimum), from random
// "pretrained" weights whose batch-norm statistics were taken from a batch of noise. The head
// moves in both; the backbone stays bit for bit in feature extraction and moves in the fine-tune.

#include "unit/train/fixture.h"
#include "xfer/models/registry.h"
#include "xfer/train/trainer.h"
#include "xfer/weights/load.h"
#include "xfer/weights/safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace xfer::train {
namespace {

namespace fs = std::filesystem;

// Running statistics of every batch norm from one training-mode batch of noise, as pretraining
// leaves them matched to the layers' outputs. Freshly initialised statistics (mean 0, variance 1)
// shrink a MobileNet's or EfficientNet's eval-mode features to 1e-10: every image then gets the
// same logits, and a balanced batch gives the head's bias a gradient of exactly 0.
void calibrate_batch_norm(models::ClassifierImpl& model, int64_t side) {
  torch::NoGradGuard no_grad;
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* norm = module->as<torch::nn::BatchNorm2d>()) norm->options.momentum(1.0);
  }
  model.train();
  model.forward(torch::rand({8, 3, side, side}));
}

class EveryFamily : public Trainer, public ::testing::WithParamInterface<std::string> {};

TEST_P(EveryFamily, TrainsByFeaturesAndByFineTuning) {
  const std::string name = GetParam();
  torch::manual_seed(123);
  auto model = models::create_model(name, models::ModelOptions().num_classes(2));
  // 32 px, or the smallest input the model takes (AlexNet's 63); Inception v3 at the 299 px its
  // auxiliary classifier needs in training.
  const int64_t side =
      name == "inception_v3" ? 299 : std::max<int64_t>(32, models::find_model(name).min_size);
  calibrate_batch_norm(*model, side);
  const fs::path initial_file = dir_ / "initial.safetensors";
  weights::write_safetensors(initial_file, weights::state_dict_of(*model));
  const auto initial = read(initial_file);
  const std::string head = models::find_model(name).head_path + ".";
  for (const Strategy strategy : {Strategy::kFeatures, Strategy::kFinetune}) {
    SCOPED_TRACE(spelling(strategy));
    TrainConfig c = config(spelling(strategy));
    c.model = name;
    c.weights = initial_file.string();
    c.strategy = strategy;
    c.per_class = 5;  // 4 train and 1 validation image a class: two steps of 4
    c.batch_size = 4;
    c.epochs = 1;
    c.image_size = side;
    const TrainResult result = train(c);
    ASSERT_EQ(result.epochs.size(), 1u);
    EXPECT_TRUE(std::isfinite(result.epochs[0].train_loss));
    const auto best = read(fs::path(c.out) / "best.safetensors");
    int64_t head_moved = 0;
    int64_t backbone_moved = 0;
    for (const auto& item : initial) {
      const auto* after = best.find(item.key());
      ASSERT_NE(after, nullptr) << item.key();
      const bool moved = !bit_equal(item.value(), *after);
      (item.key().rfind(head, 0) == 0 ? head_moved : backbone_moved) += moved;
    }
    // Weight and bias; MaxViT's head, as torchvision's, has no bias.
    EXPECT_EQ(head_moved, static_cast<int64_t>(model->head_module()->parameters().size()));
    if (strategy == Strategy::kFeatures) {
      EXPECT_EQ(backbone_moved, 0);
    } else {
      EXPECT_GT(backbone_moved, 0);
    }
    // The run reloads as it was saved (SqueezeNet's with the Linear head transfer gave it).
    const TrainedModel loaded = load_run(c.out);
    EXPECT_TRUE(loaded.model->classifies_features());
    for (const auto& item : weights::state_dict_of(*loaded.model)) {
      const auto* saved = best.find(item.key());
      ASSERT_NE(saved, nullptr) << item.key();
      EXPECT_TRUE(bit_equal(item.value(), *saved)) << item.key();
    }
  }
}

// One architecture of each family (each kind of block: plain, residual, grouped residual,
// inception, depthwise, squeeze-and-excitation, fused MBConv, layer-normalised ConvNeXt, RegNet's
// grouped bottleneck with and without squeeze-and-excitation, ShuffleNet's channel shuffle,
// MNASNet's TensorFlow momentum, DenseNet's concatenations, ViT's attention on layer norms, Swin's
// shifted windows with relative position bias, pre-norm V1 and cosine-attention post-norm V2,
// MaxViT's MBConv with window and grid attention, SqueezeNet's Fire modules, whose convolutional
// head transfer replaces with a Linear one on the pooled features).
INSTANTIATE_TEST_SUITE_P(Zoo, EveryFamily,
                         ::testing::Values("resnet20", "resnet18", "resnext50_32x4d", "alexnet",
                                           "vgg11_bn", "googlenet", "inception_v3", "mobilenet_v1",
                                           "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
                                           "efficientnet_v2_s", "convnext_tiny", "regnet_x_400mf",
                                           "regnet_y_400mf", "shufflenet_v2_x0_5", "mnasnet0_5",
                                           "densenet121", "vit_b_32", "swin_t", "swin_v2_t",
                                           "maxvit_t", "squeezenet1_1"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace xfer::train
