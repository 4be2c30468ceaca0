// Named intermediate outputs on a small module tree built here, independent of the zoo.

#include "xfer/core/error.h"
#include "xfer/models/taps.h"

#include <gtest/gtest.h>
#include <torch/nn.h>

namespace {

using xfer::models::run;
using xfer::models::Taps;

// A block whose forward calls its child through run(), as the zoo's blocks do.
struct InnerImpl : torch::nn::Module {
  InnerImpl() { conv = register_module("0", torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 2, 1))); }
  torch::Tensor forward(const torch::Tensor& x) { return run(conv, x); }
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Inner);

// conv → Sequential(relu, Inner(conv)): a block nested in a Sequential, as torchvision nests them.
struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    block = register_module("block", torch::nn::Sequential(torch::nn::ReLU(), Inner()));
  }
  torch::Tensor forward(const torch::Tensor& x) { return run(block, run(conv, x)); }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Sequential block{nullptr};
};
TORCH_MODULE(Tiny);

TEST(Taps, RecordsLeafNestedAndContainerOutputs) {
  Tiny tiny;
  const auto x = torch::randn({2, 3, 8, 8});
  Taps taps(*tiny, {"conv", "block.0", "block.1.0", "block"});
  const auto y = tiny->forward(x);
  auto outputs = taps.take();
  ASSERT_EQ(outputs.size(), 4u);
  const auto conv = tiny->conv->forward(x);
  EXPECT_TRUE(outputs["conv"].equal(conv));
  EXPECT_TRUE(outputs["block.0"].equal(torch::relu(conv)));
  EXPECT_EQ(outputs["block.1.0"].sizes(), (std::vector<int64_t>{2, 2, 6, 6}));
  EXPECT_TRUE(outputs["block"].equal(y));
}

TEST(Taps, RecordsNothingWhenInactive) {
  Tiny tiny;
  { Taps taps(*tiny, {"conv"}); }
  tiny->forward(torch::randn({1, 3, 8, 8}));
  Taps taps(*tiny, {"conv"});
  EXPECT_THROW(taps.take(), xfer::InvalidArgument);  // nothing ran while this one was alive
}

TEST(Taps, UnknownPathNamesClosestValidPaths) {
  Tiny tiny;
  try {
    Taps taps(*tiny, {"block.1.O"});
    FAIL() << "expected InvalidArgument";
  } catch (const xfer::InvalidArgument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("unknown module path 'block.1.O'"), std::string::npos) << message;
    EXPECT_NE(message.find("'block.1.0'"), std::string::npos) << message;
  }
}

TEST(Taps, OneAtATimePerThread) {
  Tiny tiny;
  Taps first(*tiny, {"conv"});
  EXPECT_THROW(Taps(*tiny, {"conv"}), xfer::InvalidArgument);
}

TEST(Taps, ClosestPathsOrdersByEditDistance) {
  const auto closest =
      xfer::models::closest_paths("layer4.1.conv", {"layer1.0.conv1", "layer4.1.conv2", "fc"}, 2);
  ASSERT_EQ(closest.size(), 2u);
  EXPECT_EQ(closest[0], "layer4.1.conv2");
}

}  // namespace
