// The CIFAR ResNets against the real 2018 checkpoints in ../shared: the same keys, shapes and
// dtypes, in the same order, once the DataParallel `module.` prefix is gone. The checkpoints predate
// batch-norm's `num_batches_tracked` buffer (PyTorch 0.4.1); like PyTorch, xfer's models have it and
// loading leaves it at zero when a file lacks it.

#include "support/paths.h"
#include "xfer/models/registry.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/load.h"

#include <gtest/gtest.h>

namespace {

class CifarCheckpoint : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(CifarCheckpoint, KeysShapesAndDtypesMatchTheModel) {
  const auto [model_name, file_name] = GetParam();
  const auto file = xfer::testing::shared_dir() / "weights" / "cifar-resnet" / file_name;
  XFER_REQUIRE_SHARED(file);

  const auto checkpoint = xfer::weights::read_state_dict(file);
  auto model = xfer::models::create_model(model_name);
  xfer::weights::StateDict ours;
  for (const auto& item : xfer::weights::state_dict_of(*model)) {
    const std::string& key = item.key();
    if (key.size() < 20 || key.substr(key.size() - 20) != ".num_batches_tracked") {
      ours.insert(key, item.value());
    }
  }

  ASSERT_EQ(ours.size(), checkpoint.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    const auto& mine = ours.items()[i];
    const auto& theirs = checkpoint.items()[i];
    EXPECT_EQ(mine.key(), theirs.key()) << "at position " << i;
    EXPECT_EQ(mine.value().sizes(), theirs.value().sizes()) << mine.key();
    EXPECT_EQ(mine.value().scalar_type(), theirs.value().scalar_type()) << mine.key();
  }
  const auto report = xfer::weights::load_into(*model, checkpoint);  // strict: throws on a misfit
  EXPECT_EQ(report.loaded.size(), ours.size());
  EXPECT_TRUE(report.missing.empty()) << report.summary();
}

INSTANTIATE_TEST_SUITE_P(Shared, CifarCheckpoint,
                         ::testing::Values(std::make_pair("resnet20", "resnet20-12fca82f.th"),
                                           std::make_pair("resnet56", "resnet56-4bfd9763.th")),
                         [](const auto& info) { return info.param.first; });

}  // namespace
