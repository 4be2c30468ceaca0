// state_dict_of and load_into on small modules defined here.

#include "expected_values.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/load.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using xfer::weights::load_into;
using xfer::weights::LoadPolicy;
using xfer::weights::LoadReport;
using xfer::weights::StateDict;
using xfer::weights::state_dict_of;

// Python's nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)): keys "0.weight" ... "1.num_batches_tracked".
struct LinearBnImpl : torch::nn::Module {
  LinearBnImpl() {
    linear = register_module("0", torch::nn::Linear(3, 4));
    bn = register_module("1", torch::nn::BatchNorm1d(4));
  }
  torch::nn::Linear linear{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};
TORCH_MODULE(LinearBn);

// A module with its own parameter and buffer around a child with both: Python's state_dict
// order is scale, count, block.weight, block.stat.
struct BlockImpl : torch::nn::Module {
  BlockImpl() {
    weight = register_parameter("weight", torch::ones({2}));
    stat = register_buffer("stat", torch::zeros({2}));
  }
  torch::Tensor weight, stat;
};
TORCH_MODULE(Block);

struct OuterImpl : torch::nn::Module {
  OuterImpl() {
    scale = register_parameter("scale", torch::ones({1}));
    block = register_module("block", Block());
    count = register_buffer("count", torch::zeros({1}, torch::kInt64));
  }
  torch::Tensor scale, count;
  Block block{nullptr};
};
TORCH_MODULE(Outer);

// A backbone and a head, as in transfer learning: the head's class count changes.
struct NetImpl : torch::nn::Module {
  explicit NetImpl(int64_t classes) {
    features = register_module("features", torch::nn::Linear(3, 4));
    fc = register_module("fc", torch::nn::Linear(4, classes));
  }
  torch::nn::Linear features{nullptr}, fc{nullptr};
};
TORCH_MODULE(Net);

std::vector<std::string> keys(const StateDict& sd) { return sd.keys(); }

TEST(StateDictOf, FollowsPythonOrderModuleByModule) {
  Outer outer;
  EXPECT_EQ(keys(state_dict_of(*outer)),
            (std::vector<std::string>{"scale", "count", "block.weight", "block.stat"}));
  LinearBn net;
  EXPECT_EQ(keys(state_dict_of(*net)),
            (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                      "1.running_var", "1.num_batches_tracked"}));
}

TEST(StateDictOf, SharesTheModulesTensors) {
  LinearBn net;
  StateDict sd = state_dict_of(*net);
  EXPECT_TRUE(sd["0.weight"].is_same(net->linear->weight));
}

TEST(LoadInto, LoadsAPythonStateDictWithBuffers) {
  LinearBn net;
  auto weights = xfer::weights::read_state_dict(xfer::testing::fixtures_dir() / "weights" /
                                                "linear_bn.pth");
  LoadReport report = load_into(*net, weights);
  EXPECT_EQ(report.loaded.size(), 7u);
  EXPECT_TRUE(report.missing.empty() && report.unexpected.empty() && report.mismatched.empty());
  for (const auto& e : xfer::testing::expected_tensors("linear_bn.pth")) {
    torch::Tensor actual = state_dict_of(*net)[e.name].to(torch::kFloat64).reshape(-1);
    for (size_t k = 0; k < e.values.size(); ++k) {
      EXPECT_EQ(actual[static_cast<int64_t>(k)].item<double>(), e.values[k]) << e.name;
    }
  }
  EXPECT_EQ(net->bn->num_batches_tracked.item<int64_t>(), 5);
}

TEST(LoadInto, ConvertsDtypeToTheModules) {
  LinearBn net;
  StateDict weights;
  for (const auto& item : state_dict_of(*net)) {
    weights.insert(item.key(), torch::full_like(item.value(), 0.75, torch::kFloat64));
  }
  load_into(*net, weights);
  EXPECT_EQ(net->linear->weight.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::all(net->linear->weight == 0.75f).item<bool>());
  EXPECT_FALSE(net->linear->weight.grad().defined());
}

TEST(LoadInto, StrictListsEveryProblemAtOnceAndCopiesNothing) {
  Net net(10);
  torch::Tensor before = net->features->weight.clone();
  StateDict weights;
  weights.insert("features.weight", torch::zeros({4, 3}));
  weights.insert("fc.weight", torch::zeros({1000, 4}));
  weights.insert("fc.bias", torch::zeros({10}));
  weights.insert("extra.weight", torch::zeros({1}));
  try {
    load_into(*net, weights);
    ADD_FAILURE() << "loaded";
  } catch (const xfer::WeightMismatch& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("not all tensors loaded: expected 4, got 2"), std::string::npos) << what;
    EXPECT_NE(what.find("wrong shape for 'fc.weight': got [1000, 4], expected [10, 4]"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("missing 'features.bias'"), std::string::npos) << what;
    EXPECT_NE(what.find("unexpected 'extra.weight'"), std::string::npos) << what;
  }
  EXPECT_TRUE(torch::equal(net->features->weight, before));
}

TEST(LoadInto, SkipPrefixLeavesTheNewHeadAndReportsItsKeys) {
  Net pretrained(1000);
  Net net(10);
  torch::Tensor head = net->fc->weight.clone();
  LoadReport report =
      load_into(*net, state_dict_of(*pretrained), LoadPolicy().skip_prefix("fc"));
  EXPECT_EQ(report.loaded, (std::vector<std::string>{"features.weight", "features.bias"}));
  EXPECT_EQ(report.skipped, (std::vector<std::string>{"fc.weight", "fc.bias"}));
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(torch::equal(net->features->weight, pretrained->features->weight));
  EXPECT_TRUE(torch::equal(net->fc->weight, head));
  EXPECT_NE(report.summary().find("skipped 2 by prefix: 'fc.weight' 'fc.bias'"), std::string::npos)
      << report.summary();
}

TEST(LoadInto, SkipPrefixMatchesWholePathComponents) {
  Net net(10);
  StateDict weights = state_dict_of(*Net(10));
  weights.insert("fcx.weight", torch::zeros({1}));
  EXPECT_THROW(load_into(*net, weights, LoadPolicy().skip_prefix("fc")), xfer::WeightMismatch);
}

TEST(LoadInto, NonStrictLoadsWhatFitsAndReportsTheRest) {
  Net net(10);
  StateDict weights;
  weights.insert("features.weight", torch::full({4, 3}, 2.0));
  weights.insert("fc.weight", torch::zeros({1000, 4}));
  weights.insert("stray", torch::zeros({1}));
  LoadReport report = load_into(*net, weights, LoadPolicy().strict(false));
  EXPECT_EQ(report.loaded, (std::vector<std::string>{"features.weight"}));
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"stray"}));
  EXPECT_EQ(report.missing, (std::vector<std::string>{"features.bias", "fc.bias"}));
  ASSERT_EQ(report.mismatched.size(), 1u);
  EXPECT_EQ(report.mismatched[0].got, (std::vector<int64_t>{1000, 4}));
  EXPECT_EQ(report.mismatched[0].expected, (std::vector<int64_t>{10, 4}));
  EXPECT_TRUE(torch::all(net->features->weight == 2.0f).item<bool>());
  EXPECT_EQ(report.summary().substr(0, 25), "loaded 1 of 4 tensors\n  w");
}

// Checkpoints from before PyTorch 0.4.1 (the real CIFAR ResNets) have no num_batches_tracked:
// strict loading accepts that, as PyTorch's BatchNorm does, and starts the counter at zero.
TEST(LoadInto, BatchCounterAbsentFromOldFilesIsSetToZero) {
  LinearBn source;
  LinearBn target;
  target->bn->num_batches_tracked.fill_(7);
  StateDict old_file;
  for (const auto& item : state_dict_of(*source)) {
    if (item.key() != "1.num_batches_tracked") old_file.insert(item.key(), item.value());
  }
  const LoadReport report = load_into(*target, old_file);
  EXPECT_TRUE(report.missing.empty()) << report.summary();
  ASSERT_EQ(report.defaulted, std::vector<std::string>{"1.num_batches_tracked"});
  EXPECT_EQ(target->bn->num_batches_tracked.item<int64_t>(), 0);
  EXPECT_NE(report.summary().find("set to 0"), std::string::npos) << report.summary();

  StateDict without_weight;
  for (const auto& item : old_file) {
    if (item.key() != "1.weight") without_weight.insert(item.key(), item.value());
  }
  EXPECT_THROW(load_into(*target, without_weight), xfer::WeightMismatch);  // only counters are excused
}

}  // namespace
