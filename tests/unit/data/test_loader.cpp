// The loader: the same batches in the same order whatever the thread count, a new order each
// epoch, drop_last, bounded memory under a slow consumer, worker errors at the consumer, and a
// clean stop mid-epoch.

#include "fixtures.h"
#include "support/paths.h"
#include "xfer/data/loader.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

namespace xfer::data {
namespace {

// `n` 12×10 RGB images whose pixels encode the sample, labels i % 3.
Dataset images(int64_t n) {
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(i % 3);
    for (int64_t y = 0; y < 12; ++y)
      for (int64_t x = 0; x < 10; ++x)
        for (int64_t c = 0; c < 3; ++c) pixels.push_back(testing::fixture_pixel(i, y, x, c));
  }
  return Dataset::from_memory("toy", {"a", "b", "c"}, labels, pixels, 12, 10, 3);
}

const transforms::Transform kAugment = transforms::Transform::parse(
    "random_resized_crop=8:0.3-1,hflip,color_jitter=0.3:0.3:0.3,normalize=imagenet");

std::vector<Batch> epoch(Loader& loader, int64_t e) {
  loader.start_epoch(e);
  std::vector<Batch> out;
  while (auto batch = loader.next()) out.push_back(std::move(*batch));
  return out;
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].number, static_cast<int64_t>(i));
    EXPECT_EQ(a[i].positions, b[i].positions) << "batch " << i;
    EXPECT_TRUE(a[i].labels.equal(b[i].labels)) << "batch " << i;
    EXPECT_TRUE(a[i].images.equal(b[i].images)) << "batch " << i;
  }
}

TEST(Loader, SameSeedSameBatchesWhateverTheThreadCount) {
  const Dataset data = images(45);
  std::vector<std::vector<Batch>> runs;
  for (const int64_t workers : {1, 2, 4}) {
    Loader loader(data, kAugment, LoaderOptions().batch_size(8).workers(workers).seed(17));
    runs.push_back(epoch(loader, 3));
  }
  expect_same(runs[0], runs[1]);
  expect_same(runs[0], runs[2]);
  ASSERT_EQ(runs[0].size(), 6u);
  EXPECT_EQ(runs[0].back().images.size(0), 5);  // 45 = 5 × 8 + 5
  EXPECT_EQ(runs[0][0].images.sizes(), (c10::IntArrayRef{8, 3, 8, 8}));
  EXPECT_EQ(runs[0][0].images.dtype(), at::kFloat);
  EXPECT_EQ(runs[0][0].labels.dtype(), at::kLong);
}

TEST(Loader, EveryEpochVisitsEverySampleOnceInANewOrder) {
  const Dataset data = images(30);
  Loader loader(data, transforms::Transform(), LoaderOptions().batch_size(7).workers(2).seed(1));
  std::vector<int64_t> first;
  for (const auto& batch : epoch(loader, 0)) {
    for (size_t i = 0; i < batch.positions.size(); ++i) {
      EXPECT_EQ(batch.labels[static_cast<int64_t>(i)].item<int64_t>(), batch.positions[i] % 3);
    }
    first.insert(first.end(), batch.positions.begin(), batch.positions.end());
  }
  std::vector<int64_t> second;
  for (const auto& batch : epoch(loader, 1)) {
    second.insert(second.end(), batch.positions.begin(), batch.positions.end());
  }
  EXPECT_EQ(std::set<int64_t>(first.begin(), first.end()).size(), 30u);
  EXPECT_EQ(std::set<int64_t>(second.begin(), second.end()).size(), 30u);
  EXPECT_NE(first, second);
  // Epoch 0 again gives epoch 0's order.
  std::vector<int64_t> again;
  for (const auto& batch : epoch(loader, 0)) {
    again.insert(again.end(), batch.positions.begin(), batch.positions.end());
  }
  EXPECT_EQ(first, again);
}

TEST(Loader, PixelsAreTheTransformOfTheSample) {
  const Dataset data = images(5);
  Loader loader(data, transforms::Transform::parse("center_crop=6,normalize=half"),
                LoaderOptions().batch_size(5).shuffle(false).workers(2));
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 1u);
  const at::Tensor expected =
      transforms::Transform::parse("center_crop=6,normalize=half")(data.image(3), 0);
  EXPECT_TRUE(batches[0].images[3].equal(expected));
  EXPECT_EQ(batches[0].positions, (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Loader, ChannelsLastHoldsTheSameValues) {
  const Dataset data = images(10);
  Loader planar(data, kAugment, LoaderOptions().batch_size(4).workers(2).seed(4));
  Loader nhwc(data, kAugment, LoaderOptions().batch_size(4).workers(3).seed(4).channels_last(true));
  const auto a = epoch(planar, 0);
  const auto b = epoch(nhwc, 0);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(b[i].images.is_contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_TRUE(a[i].images.equal(b[i].images));
  }
}

TEST(Loader, DropLastLeavesOutTheShortBatch) {
  const Dataset data = images(10);
  Loader keep(data, transforms::Transform(), LoaderOptions().batch_size(4));
  Loader drop(data, transforms::Transform(), LoaderOptions().batch_size(4).drop_last(true));
  EXPECT_EQ(keep.batches_per_epoch(), 3);
  EXPECT_EQ(drop.batches_per_epoch(), 2);
  const auto batches = epoch(drop, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].images.size(0), 4);
  Loader none(data, transforms::Transform(), LoaderOptions().batch_size(11).drop_last(true));
  EXPECT_TRUE(epoch(none, 0).empty());
}

TEST(Loader, SlowConsumerDoesNotGrowTheQueue) {
  const Dataset data = images(64);
  Loader loader(data, transforms::Transform(),
                LoaderOptions().batch_size(2).workers(4).queue_depth(3));
  loader.start_epoch(0);
  int64_t taken = 0;
  while (auto batch = loader.next()) {
    ++taken;
    if (taken % 8 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_LE(loader.peak_queued(), 3);
  }
  EXPECT_EQ(taken, 32);
  EXPECT_EQ(loader.peak_queued(), 3);  // the workers did run ahead, up to the bound
}

TEST(Loader, WorkerErrorsReachTheConsumerAtTheirBatch) {
  const auto root = testing::temp_dir("loader-bad");
  std::vector<std::filesystem::path> files;
  for (int i = 0; i < 6; ++i) {
    files.push_back(root / (std::to_string(i) + ".png"));
    testing::write_png(files.back(), 6, 6, i);
  }
  testing::write_file(files[4], {'n', 'o', 'p', 'e'});
  const Dataset data = Dataset::from_files("folder", {"a"}, std::vector<int64_t>(6, 0), files);
  Loader loader(data, transforms::Transform(),
                LoaderOptions().batch_size(2).shuffle(false).workers(2));
  loader.start_epoch(0);
  EXPECT_TRUE(loader.next().has_value());
  EXPECT_TRUE(loader.next().has_value());
  EXPECT_THROW_WITH(loader.next(), FormatError, "4.png: not a JPEG, PNG, BMP, WebP or TIFF image");
  EXPECT_FALSE(loader.next().has_value());  // the epoch ended there

  // Sizes that do not fit one batch are an error too, naming the fix.
  testing::write_png(root / "tall.png", 9, 5, 0);
  Loader mixed(Dataset::from_files("folder", {"a"}, {0, 0}, {files[0], root / "tall.png"}),
               transforms::Transform(), LoaderOptions().batch_size(2).shuffle(false).workers(1));
  mixed.start_epoch(0);
  EXPECT_THROW_WITH(mixed.next(), InvalidArgument,
                    "loader: sample 1 of folder is 9x5 after the transform, but the batch's first "
                    "is 6x6 (expected one size: end the transform with a crop or resize=HxW)");
}

TEST(Loader, StopsCleanlyMidEpoch) {
  const Dataset data = images(200);
  for (int round = 0; round < 5; ++round) {
    Loader loader(data, kAugment, LoaderOptions().batch_size(4).workers(4).queue_depth(2));
    loader.start_epoch(round);
    ASSERT_TRUE(loader.next().has_value());
  }  // destroyed with workers blocked on the full queue
  Loader loader(data, kAugment, LoaderOptions().batch_size(4).workers(2));
  loader.start_epoch(0);
  loader.next();
  loader.start_epoch(1);  // abandons epoch 0
  int64_t n = 0;
  while (loader.next()) ++n;
  EXPECT_EQ(n, 50);
}

TEST(Loader, ShardsDealTheEpochsOrderAsDistributedSamplerDoes) {
  EXPECT_EQ(shard_positions({5, 3, 1, 4, 0}, 0, 2, true), (std::vector<int64_t>{5, 1, 0}));
  EXPECT_EQ(shard_positions({5, 3, 1, 4, 0}, 1, 2, true), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(shard_positions({5, 3, 1, 4, 0}, 1, 2, false), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(shard_positions({7}, 2, 3, false), (std::vector<int64_t>{}));

  // Two shards of an epoch, batch 2, hold what one loader's batch 4 holds, batch by batch.
  const Dataset data = images(16);
  const auto options = LoaderOptions().batch_size(4).seed(9).workers(2);
  Loader whole(data, kAugment, options);
  Loader first(data, kAugment, LoaderOptions(options).batch_size(2).shard(0).shards(2));
  Loader second(data, kAugment, LoaderOptions(options).batch_size(2).shard(1).shards(2));
  const auto all = epoch(whole, 3);
  const auto a = epoch(first, 3);
  const auto b = epoch(second, 3);
  ASSERT_EQ(a.size(), all.size());
  ASSERT_EQ(b.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& p = all[i].positions;
    EXPECT_EQ(a[i].positions, (std::vector<int64_t>{p[0], p[2]}));
    EXPECT_EQ(b[i].positions, (std::vector<int64_t>{p[1], p[3]}));
    // The same augmentation of each sample as the unsharded loader gives it.
    EXPECT_TRUE(at::equal(a[i].images[0], all[i].images[0]));
    EXPECT_TRUE(at::equal(b[i].images[1], all[i].images[3]));
  }
  EXPECT_THROW_WITH(Loader(data, kAugment, LoaderOptions().shard(2).shards(2)), InvalidArgument,
                    "expected 0 <= shard < shards, got shard 2 of 2");
}

TEST(Loader, BadOptionsAreRejected) {
  const Dataset data = images(3);
  EXPECT_THROW_WITH(Loader(data, transforms::Transform(), LoaderOptions().batch_size(0)),
                    InvalidArgument, "loader: expected batch_size >= 1, got 0");
  EXPECT_THROW_WITH(Loader(data, transforms::Transform(), LoaderOptions().workers(-1)),
                    InvalidArgument, "expected workers and queue_depth >= 0");
  EXPECT_THROW_WITH(Loader(data.subset({}), transforms::Transform()), InvalidArgument,
                    "expected a dataset with at least one sample, got an empty toy split");
  if (!at::hasCUDA()) {
    EXPECT_THROW_WITH(Loader(data, transforms::Transform(), LoaderOptions().pin_memory(true)),
                      InvalidArgument, "pin_memory needs a LibTorch with CUDA");
  }
  Loader fresh(data, transforms::Transform());
  EXPECT_FALSE(fresh.next().has_value());  // no epoch started
}

}  // namespace
}  // namespace xfer::data
