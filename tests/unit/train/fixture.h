#pragma once
// What the trainer's tests share: a fixture with its own XFER_HOME, a small ResNet-20 run on 2
// Fashion-MNIST classes, a random "pretrained" start, and bitwise comparison of tensors.

#include "support/paths.h"
#include "xfer/models/registry.h"
#include "xfer/train/config.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/load.h"
#include "xfer/weights/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace xfer::train {

/// A temporary folder per test, XFER_HOME inside it (the feature cache stays there).
class Trainer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("trainer");
    setenv("XFER_HOME", (dir_ / "home").c_str(), 1);
  }

  /// A random ResNet-20 for 2 classes (seed 123) saved as a weights file: the "pretrained" start.
  std::filesystem::path initial_weights() {
    torch::manual_seed(123);
    auto model = models::create_model("resnet20", models::ModelOptions().num_classes(2));
    const std::filesystem::path file = dir_ / "initial.safetensors";
    weights::write_safetensors(file, weights::state_dict_of(*model));
    return file;
  }

  /// ResNet-20 from scratch on Trouser and Bag, 20 images a class (32 train, 8 val, 40 test) at
  /// 32 px, batches of 8, 2 epochs, one thread; the run directory dir_/name.
  TrainConfig config(const std::string& name) {
    TrainConfig c;
    c.model = "resnet20";
    c.weights = "none";
    c.data = "fashion-mnist";
    c.classes = {"Trouser", "Bag"};
    c.per_class = 20;
    c.val_fraction = 0.2;
    c.image_size = 32;
    c.batch_size = 8;
    c.epochs = 2;
    c.threads = 1;
    c.workers = 2;
    c.out = (dir_ / name).string();
    return c;
  }

  std::filesystem::path dir_;
};

/// The tensors of a weights file.
inline weights::StateDict read(const std::filesystem::path& file) {
  return weights::read_state_dict(file);
}

/// Same shape, dtype and bits.
inline bool bit_equal(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && torch::equal(a, b);
}

}  // namespace xfer::train
