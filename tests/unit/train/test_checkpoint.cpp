// checkpoint.pt written and read back alone, on a ResNet-20 for two classes: where the run stood,
// the tensors training moved (and only those: the rest come from best.safetensors), the
// optimizer's state and the generator's, and the errors of a missing or damaged checkpoint.

#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/models/registry.h"
#include "xfer/train/checkpoint.h"
#include "xfer/train/optimizer.h"
#include "xfer/weights/load.h"
#include "xfer/weights/pth.h"
#include "xfer/weights/safetensors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>

#include <cstring>
#include <string>

namespace xfer::train {
namespace {

namespace fs = std::filesystem;

bool bit_equal(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && at::equal(a, b);
}

at::Tensor bytes_of(const std::string& text) {
  auto t = at::empty({static_cast<int64_t>(text.size())}, at::kByte);
  std::memcpy(t.data_ptr(), text.data(), text.size());
  return t;
}

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("checkpoint");
    at::manual_seed(7);
    model_ = models::create_model("resnet20", models::ModelOptions().num_classes(2));
    config_.model = "resnet20";
    config_.optimizer = OptimizerKind::kSgd;
    config_.lr = 0.1;
  }

  // Plans a phase, sets the modes, and takes one SGD step (momentum buffers exist after it).
  PhaseOptimizer step(bool backbone_frozen) {
    const ParameterPlan plan = plan_parameters(*model_, config_, backbone_frozen);
    set_modes(*model_, config_);
    PhaseOptimizer made = make_optimizer(config_, plan);
    const at::Tensor images = at::randn({4, 3, 32, 32});
    made.optimizer->zero_grad();
    model_->forward(images).sum().backward();
    made.optimizer->step();
    return made;
  }

  RunState state() {
    RunState s;
    s.epoch = 3;
    s.step = 12;
    s.phase = 1;
    s.stopped_early = true;
    s.rows = {{1, 0.7, 0.5, 0.69, 0.55, 0.1, 1.5}, {2, 0.4, 0.8, 0.45, 0.75, 0.05, 1.25}};
    for (const auto& item : weights::state_dict_of(*model_)) {
      s.best.insert(item.key(), item.value().detach().clone() + 1);
    }
    return s;
  }

  fs::path dir_;
  models::Classifier model_;
  TrainConfig config_;
};

TEST_F(Checkpoint, ReadsBackWhereTheRunStoodAndWhatTrainingMoved) {
  config_.strategy = Strategy::kFinetune;
  PhaseOptimizer made = step(/*backbone_frozen=*/false);
  std::set<std::string> moving;
  add_moving_keys(*model_, moving);
  const RunState written = state();
  weights::write_safetensors(dir_ / "best.safetensors", written.best);
  const at::Tensor rng = at::detail::getDefaultCPUGenerator().get_state();
  write_checkpoint(dir_ / "checkpoint.pt", *model_, *made.optimizer, written, moving, 2);

  const SavedRun saved = read_saved_run(run::RunDirectory(dir_));
  EXPECT_EQ(saved.state.epoch, 3);
  EXPECT_EQ(saved.state.step, 12);
  EXPECT_EQ(saved.state.phase, 1);
  EXPECT_TRUE(saved.state.stopped_early);
  EXPECT_EQ(saved.world_size, 2);
  ASSERT_EQ(saved.state.rows.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& a = saved.state.rows[i];
    const auto& b = written.rows[i];
    EXPECT_EQ(a.epoch, b.epoch);
    EXPECT_EQ(a.train_loss, b.train_loss);
    EXPECT_EQ(a.train_acc, b.train_acc);
    EXPECT_EQ(a.val_loss, b.val_loss);
    EXPECT_EQ(a.val_acc, b.val_acc);
    EXPECT_EQ(a.lr, b.lr);
    EXPECT_EQ(a.seconds, b.seconds);
  }
  const auto now = weights::state_dict_of(*model_);
  ASSERT_EQ(saved.model.size(), now.size());
  for (const auto& item : now) {
    EXPECT_TRUE(bit_equal(saved.model[item.key()], item.value())) << item.key();
    EXPECT_TRUE(bit_equal(saved.state.best[item.key()], written.best[item.key()])) << item.key();
  }
  EXPECT_TRUE(bit_equal(saved.rng, rng));

  // The optimizer's bytes restore its momentum into an optimizer over the same plan.
  PhaseOptimizer fresh = make_optimizer(config_, plan_parameters(*model_, config_, false));
  torch::serialize::InputArchive archive;
  archive.load_from(saved.optimizer.data(), saved.optimizer.size());
  fresh.optimizer->load(archive);
  const auto& before = made.optimizer->state();
  const auto& after = fresh.optimizer->state();
  ASSERT_EQ(after.size(), before.size());
  ASSERT_FALSE(after.empty());
  for (const auto& entry : before) {
    const auto& a = static_cast<const torch::optim::SGDParamState&>(*entry.second);
    const auto& b = static_cast<const torch::optim::SGDParamState&>(*after.at(entry.first));
    EXPECT_TRUE(bit_equal(a.momentum_buffer(), b.momentum_buffer())) << entry.first;
  }
}

TEST_F(Checkpoint, HoldsOnlyTheMovedTensorsAndTakesTheRestFromTheBestWeights) {
  PhaseOptimizer made = step(/*backbone_frozen=*/true);  // feature extraction: the head moves
  std::set<std::string> moving;
  add_moving_keys(*model_, moving);
  EXPECT_EQ(moving, (std::set<std::string>{"linear.weight", "linear.bias"}));
  const RunState written = state();
  weights::write_safetensors(dir_ / "best.safetensors", written.best);
  write_checkpoint(dir_ / "checkpoint.pt", *model_, *made.optimizer, written, moving, 1);

  std::set<std::string> keys;
  for (const auto& item : weights::read_checkpoint(dir_ / "checkpoint.pt").tensors) {
    keys.insert(item.key());
  }
  EXPECT_EQ(keys, (std::set<std::string>{"model/linear.weight", "model/linear.bias",
                                         "best/linear.weight", "best/linear.bias", "optimizer",
                                         "rng", "meta"}));
  const SavedRun saved = read_saved_run(run::RunDirectory(dir_));
  const auto now = weights::state_dict_of(*model_);
  EXPECT_TRUE(bit_equal(saved.model["linear.weight"], now["linear.weight"]));
  // Not moved: best.safetensors' tensor (the live one differs by 1), under the same key.
  EXPECT_TRUE(bit_equal(saved.model["conv1.weight"], written.best["conv1.weight"]));
  EXPECT_FALSE(bit_equal(saved.model["conv1.weight"], now["conv1.weight"]));
}

TEST_F(Checkpoint, WithoutTheBestWeightsIsAnIoError) {
  PhaseOptimizer made = step(true);
  write_checkpoint(dir_ / "checkpoint.pt", *model_, *made.optimizer, state(), {}, 1);
  try {
    read_saved_run(run::RunDirectory(dir_));
    FAIL() << "read without best.safetensors";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint.pt without best.safetensors"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(Checkpoint, AnotherPthOrDamagedMetadataIsAFormatError) {
  weights::write_safetensors(dir_ / "best.safetensors", weights::state_dict_of(*model_));
  weights::StateDict other;
  other.insert("weight", at::zeros({2}));
  weights::write_pth(dir_ / "checkpoint.pt", other);
  try {
    read_saved_run(run::RunDirectory(dir_));
    FAIL() << "a plain state_dict read as a checkpoint";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("not an xfer checkpoint (no 'optimizer')"),
              std::string::npos)
        << e.what();
  }

  weights::StateDict damaged;
  damaged.insert("optimizer", bytes_of("x"));
  damaged.insert("rng", at::detail::getDefaultCPUGenerator().get_state());
  damaged.insert("meta", bytes_of("{\"epoch\": 3"));
  weights::write_pth(dir_ / "checkpoint.pt", damaged);
  try {
    read_saved_run(run::RunDirectory(dir_));
    FAIL() << "truncated metadata was read";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("damaged checkpoint metadata"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace xfer::train
