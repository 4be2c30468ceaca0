// c10d groups in one process: each rank is a thread with its own Gloo group on 127.0.0.1. The
// collectives, the shards gathered back in order, gradients averaged in buckets equal to the
// whole batch's, and a failure on one rank reaching the others.

#include "support/compare.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/core/error.h"
#include "xfer/dist/gradients.h"
#include "xfer/dist/group.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/activation.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <thread>

namespace xfer::dist {
namespace {

using xfer::testing::all_close;

// The message of the `E` that `f` throws, or "(nothing thrown)".
template <typename E>
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// Runs `body` as every rank of a `ranks`-process job, one thread each; rethrows the first
// exception a rank threw.
void on_ranks(int64_t ranks, const std::function<void(Group&)>& body) {
  const int port = testing::free_local_port();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int64_t r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
        World world;
        world.rank = r;
        world.size = ranks;
        world.local_rank = r;
        world.local_size = ranks;
        world.master_addr = "127.0.0.1";
        world.port = port;
        GroupOptions options;
        options.backend = "gloo";
        options.timeout = std::chrono::seconds(30);
        auto group = Group::join(world, options);
        body(*group);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

TEST(Group, SumsBroadcastsAndGathers) {
  on_ranks(3, [](Group& group) {
    const double r = static_cast<double>(group.rank());
    at::Tensor sum = at::full({4}, r + 1, at::kDouble);
    group.all_reduce_sum(sum);
    EXPECT_TRUE(at::equal(sum, at::full({4}, 6.0, at::kDouble)));
    at::Tensor value = at::full({2, 3}, r);
    at::Tensor transposed = at::full({3, 2}, r).t();  // not contiguous
    group.broadcast({value, transposed}, 1);
    EXPECT_TRUE(at::equal(value, at::full({2, 3}, 1.0)));
    EXPECT_TRUE(at::equal(transposed, at::full({2, 3}, 1.0)));
    const auto all = group.all_gather(at::full({1}, r * 10));
    ASSERT_EQ(all.size(), 3u);
    for (int64_t k = 0; k < 3; ++k) EXPECT_EQ(all[k].item<float>(), 10.0f * k);
    group.barrier();
  });
}

TEST(Group, ShardsAreGatheredBackInTheSplitsOrder) {
  on_ranks(3, [](Group& group) {
    // 7 rows: rank 0 holds 0, 3, 6; rank 1 holds 1, 4; rank 2 holds 2, 5.
    const int64_t r = group.rank();
    const at::Tensor local = at::arange(r, 7, 3, at::kLong).unsqueeze(1).repeat({1, 2});
    const at::Tensor whole = gather_shards(group, local, 7);
    EXPECT_TRUE(at::equal(whole, at::arange(7, at::kLong).unsqueeze(1).repeat({1, 2})));
    // A split with fewer rows than ranks: rank 2's shard is empty.
    const at::Tensor few = r < 2 ? at::full({1}, r, at::kLong) : at::empty({0}, at::kLong);
    EXPECT_TRUE(at::equal(gather_shards(group, few, 2), at::arange(2, at::kLong)));
  });
}

torch::nn::Sequential small_model() {
  torch::manual_seed(7);
  return torch::nn::Sequential(torch::nn::Linear(5, 16), torch::nn::ReLU(),
                               torch::nn::Linear(16, 3));
}

TEST(GradientAverager, TwoHalvesGiveTheWholeBatchsGradients) {
  torch::manual_seed(1);
  const at::Tensor x = at::randn({8, 5});
  const at::Tensor y = at::randint(0, 3, {8}, at::kLong);
  auto reference = small_model();
  torch::nn::functional::cross_entropy(reference->forward(x), y).backward();
  // Made here, one after the other: the seeded generator is the process's, shared by the threads.
  const std::vector<torch::nn::Sequential> models = {small_model(), small_model()};

  on_ranks(2, [&](Group& group) {
    auto model = models[static_cast<size_t>(group.rank())];
    // 64-byte buckets: the four parameters (and their sums) go in several buckets.
    GradientAverager averager(group, model->parameters(), 64);
    EXPECT_GE(averager.buckets(), 3);
    const auto rows = at::arange(group.rank(), 8, 2, at::kLong);
    for (int step = 0; step < 2; ++step) {  // hooks and buckets are reused step after step
      for (auto& p : model->parameters()) {
        if (p.grad().defined()) p.mutable_grad().zero_();
      }
      torch::nn::functional::cross_entropy(model->forward(x.index_select(0, rows)),
                                           y.index_select(0, rows))
          .backward();
      averager.average();
      const auto mine = model->parameters();
      const auto theirs = reference->parameters();
      // One batch of 8, or two of 4 whose gradients are summed and halved: float32 sums in two
      // orders, ~1e-7 of each gradient's scale apart. 1e-5 of each element or of the scale.
      for (size_t k = 0; k < mine.size(); ++k) {
        const double scale = theirs[k].grad().abs().max().item<double>();
        EXPECT_TRUE(all_close(mine[k].grad(), theirs[k].grad(), 1e-5, 1e-5 * scale))
            << "parameter " << k << ", step " << step;
      }
    }
  });
}

TEST(Group, AFailureOnOneRankStopsEveryRank) {
  std::vector<std::string> messages(2);
  on_ranks(2, [&](Group& group) {
    try {
      run_together(&group, "reading the data", [&] {
        if (group.rank() == 1) throw InvalidArgument("data: no such folder");
      });
    } catch (const Error& e) {
      messages[static_cast<size_t>(group.rank())] = e.what();
    }
  });
  EXPECT_EQ(messages[1], "data: no such folder");
  EXPECT_EQ(messages[0], "rank 0: reading the data failed on 1 other rank(s); their errors say why");
}

TEST(World, ComesFromTheTorchrunEnvironment) {
  unsetenv("WORLD_SIZE");
  EXPECT_FALSE(world_from_environment().has_value());
  setenv("WORLD_SIZE", "4", 1);
  setenv("RANK", "2", 1);
  setenv("MASTER_ADDR", "10.0.0.1", 1);
  setenv("MASTER_PORT", "29500", 1);
  unsetenv("LOCAL_RANK");
  unsetenv("LOCAL_WORLD_SIZE");
  const auto world = world_from_environment();
  ASSERT_TRUE(world.has_value());
  EXPECT_EQ(world->rank, 2);
  EXPECT_EQ(world->size, 4);
  EXPECT_EQ(world->local_rank, 2);
  EXPECT_EQ(world->local_size, 4);
  EXPECT_EQ(world->master_addr, "10.0.0.1");
  EXPECT_EQ(world->port, 29500);
  setenv("RANK", "4", 1);
  EXPECT_CONTAINS(message_of<InvalidArgument>([] { world_from_environment(); }),
                  "RANK: expected an integer in [0, 3], found '4'");
  unsetenv("RANK");
  EXPECT_CONTAINS(message_of<InvalidArgument>([] { world_from_environment(); }),
                  "RANK: expected it set");
  unsetenv("WORLD_SIZE");
  unsetenv("MASTER_ADDR");
  unsetenv("MASTER_PORT");
}

TEST(Group, UnknownOrMissingBackendsAreRefused) {
  World world;
  world.master_addr = "127.0.0.1";
  world.port = testing::free_local_port();
  GroupOptions options;
  options.backend = "mpi";
  EXPECT_CONTAINS(message_of<InvalidArgument>([&] { Group::join(world, options); }),
                  "dist-backend: expected auto, gloo or nccl, got 'mpi'");
  if (!at::hasCUDA()) {
    options.backend = "nccl";
    EXPECT_CONTAINS(message_of<InvalidArgument>([&] { Group::join(world, options); }),
                    "nccl needs a LibTorch");
  }
}

}  // namespace
}  // namespace xfer::dist
