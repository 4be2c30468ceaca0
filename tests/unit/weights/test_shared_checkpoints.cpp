// The real legacy-format checkpoints of ../shared/weights/cifar-resnet (torch.save, 2018).

#include "support/paths.h"
#include "xfer/weights/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

std::string extra(const xfer::weights::Checkpoint& c, const std::string& name) {
  for (const auto& [k, v] : c.extras) {
    if (k == name) return v;
  }
  return "<absent>";
}

// Key counts, best_prec1 and sample values as Python's torch.load reports them.
TEST(SharedCheckpoints, CifarResNet20Legacy) {
  auto file = xfer::testing::shared_dir() / "weights" / "cifar-resnet" / "resnet20-12fca82f.th";
  XFER_REQUIRE_SHARED(file);
  auto c = xfer::weights::read_checkpoint(file);
  EXPECT_EQ(c.format, "pth-legacy");
  ASSERT_EQ(c.tensors.size(), 97u);
  EXPECT_EQ(c.tensors[0].key(), "conv1.weight");
  EXPECT_EQ(c.tensors[96].key(), "linear.bias");
  EXPECT_EQ(extra(c, "best_prec1"), "91.78000183105469");
  EXPECT_EQ(c.tensors["conv1.weight"].sizes().vec(), (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_FLOAT_EQ(c.tensors["conv1.weight"].reshape(-1)[2].item<float>(), 0.8207383155822754f);
  EXPECT_FLOAT_EQ(c.tensors["linear.bias"][1].item<float>(), -0.3431008756160736f);
}

TEST(SharedCheckpoints, CifarResNet56Legacy) {
  auto file = xfer::testing::shared_dir() / "weights" / "cifar-resnet" / "resnet56-4bfd9763.th";
  XFER_REQUIRE_SHARED(file);
  auto c = xfer::weights::read_checkpoint(file);
  ASSERT_EQ(c.tensors.size(), 277u);
  EXPECT_EQ(extra(c, "best_prec1"), "93.62");
  EXPECT_FLOAT_EQ(c.tensors["conv1.weight"].reshape(-1)[0].item<float>(), -0.21604876220226288f);
  EXPECT_FLOAT_EQ(c.tensors["linear.bias"][2].item<float>(), 0.10410260409116745f);
}

}  // namespace
