#include "xfer/dist/group.h"

#include "xfer/core/error.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>

namespace xfer::dist {
namespace {

// The first line of an exception's message, without LibTorch's backtrace.
std::string reason(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10 != nullptr ? c10->what_without_backtrace() : e.what();
  const auto newline = text.find('\n');
  return newline == std::string::npos ? text : text.substr(0, newline);
}

int64_t integer_variable(const char* name, int64_t low, int64_t high, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    if (fallback >= 0) return fallback;
    throw InvalidArgument(std::string(name) + ": expected it set (WORLD_SIZE is set, so this is a "
                          "distributed job), found it unset");
  }
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  if (*end != '\0' || parsed < low || parsed > high) {
    throw InvalidArgument(std::string(name) + ": expected an integer in [" + std::to_string(low) +
                          ", " + std::to_string(high) + "], found '" + value + "'");
  }
  return parsed;
}

std::string where(const World& w) {
  return w.master_addr + ":" + std::to_string(w.port);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

std::optional<World> world_from_environment() {
  if (std::getenv("WORLD_SIZE") == nullptr) return std::nullopt;
  World w;
  w.size = integer_variable("WORLD_SIZE", 1, 1 << 20, -1);
  w.rank = integer_variable("RANK", 0, w.size - 1, -1);
  w.local_rank = integer_variable("LOCAL_RANK", 0, w.size - 1, w.rank);
  w.local_size = integer_variable("LOCAL_WORLD_SIZE", 1, w.size, w.size);
  const char* addr = std::getenv("MASTER_ADDR");
  if (addr == nullptr || *addr == '\0') {
    throw InvalidArgument("MASTER_ADDR: expected the host of rank 0 (WORLD_SIZE is set), found it "
                          "unset");
  }
  w.master_addr = addr;
  w.port = static_cast<int>(integer_variable("MASTER_PORT", 1, 65535, -1));
  return w;
}

struct Pending::Impl {
  c10::intrusive_ptr<c10d::Work> work;
  std::string what;
  int64_t rank = 0;
  std::chrono::seconds timeout{0};
};

void Pending::wait() {
  if (!impl_) return;
  try {
    impl_->work->wait();
  } catch (const std::exception& e) {
    throw DistributedError("rank " + std::to_string(impl_->rank) + ": " + impl_->what +
                           " failed: " + reason(e) +
                           " (another rank died, or did not reach the same step within " +
                           std::to_string(impl_->timeout.count()) + " s)");
  }
}

struct Group::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::chrono::seconds timeout{0};
};

Group::Group(World world, std::string backend, std::unique_ptr<Impl> impl)
    : world_(std::move(world)), backend_(std::move(backend)), impl_(std::move(impl)) {}

Group::~Group() = default;

std::unique_ptr<Group> Group::join(const World& world, const GroupOptions& options) {
  std::string backend = options.backend;
  if (backend == "auto") backend = options.cuda ? "nccl" : "gloo";
  if (backend != "gloo" && backend != "nccl") {
    throw InvalidArgument("dist-backend: expected auto, gloo or nccl, got '" + options.backend +
                          "'");
  }
#ifndef USE_C10D_NCCL
  if (backend == "nccl") {
    throw InvalidArgument("dist-backend: nccl needs a LibTorch built with CUDA and NCCL, and this "
                          "one has neither (use gloo, on CPU tensors)");
  }
#endif
  auto impl = std::make_unique<Impl>();
  impl->timeout = options.timeout;
  const std::string job = "rank " + std::to_string(world.rank) + " of " +
                          std::to_string(world.size);
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(world.port);
  store_options.isServer = world.rank == 0;
  store_options.numWorkers = static_cast<int>(world.size);
  store_options.waitWorkers = true;
  store_options.timeout = options.timeout;
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
  } catch (const std::exception& e) {
    throw DistributedError("rendezvous at " + where(world) + " (MASTER_ADDR:MASTER_PORT) did not "
                           "complete within " + std::to_string(options.timeout.count()) + " s (" +
                           job + (world.rank == 0 ? ", serving the store" : "") + "): " +
                           reason(e));
  }
  try {
    if (backend == "gloo") {
      auto gloo = c10d::ProcessGroupGloo::Options::create(options.timeout);
      if (const char* name = std::getenv("GLOO_SOCKET_IFNAME"); name != nullptr && *name != '\0') {
        gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
      } else if (is_loopback(world.master_addr)) {
        gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
          impl->store, static_cast<int>(world.rank), static_cast<int>(world.size), gloo);
    }
#ifdef USE_C10D_NCCL
    if (backend == "nccl") {
      auto nccl = c10d::ProcessGroupNCCL::Options::create();
      nccl->timeout = options.timeout;
      impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          impl->store, static_cast<int>(world.rank), static_cast<int>(world.size), nccl);
    }
#endif
  } catch (const std::exception& e) {
    throw DistributedError("rendezvous at " + where(world) + " (MASTER_ADDR:MASTER_PORT) did not "
                           "complete within " + std::to_string(options.timeout.count()) + " s (" +
                           job + ", connecting to the other ranks): " + reason(e));
  }
  return std::unique_ptr<Group>(new Group(world, backend, std::move(impl)));
}

Pending Group::all_reduce_sum_async(at::Tensor tensor) {
  auto pending = std::make_shared<Pending::Impl>();
  pending->what = "all-reduce of " + std::to_string(tensor.numel()) + " values";
  pending->rank = world_.rank;
  pending->timeout = impl_->timeout;
  std::vector<at::Tensor> tensors = {std::move(tensor)};
  try {
    pending->work = impl_->group->allreduce(tensors);
  } catch (const std::exception& e) {
    throw DistributedError("rank " + std::to_string(world_.rank) + ": " + pending->what +
                           " failed to start: " + reason(e));
  }
  return Pending(pending);
}

void Group::all_reduce_sum(at::Tensor tensor) { all_reduce_sum_async(std::move(tensor)).wait(); }

void Group::broadcast(const std::vector<at::Tensor>& tensors, int64_t root) {
  c10::NoGradGuard no_grad;  // parameters are overwritten in place
  for (const auto& tensor : tensors) {
    std::vector<at::Tensor> buffer = {tensor.contiguous()};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    auto pending = std::make_shared<Pending::Impl>();
    pending->what = "broadcast from rank " + std::to_string(root);
    pending->rank = world_.rank;
    pending->timeout = impl_->timeout;
    pending->work = impl_->group->broadcast(buffer, options);
    Pending(pending).wait();
    if (!buffer.front().is_same(tensor)) tensor.copy_(buffer.front());
  }
}

std::vector<at::Tensor> Group::all_gather(const at::Tensor& tensor) {
  std::vector<at::Tensor> input = {tensor.contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int64_t r = 0; r < world_.size; ++r) output[0].push_back(at::empty_like(input[0]));
  auto pending = std::make_shared<Pending::Impl>();
  pending->what = "all-gather";
  pending->rank = world_.rank;
  pending->timeout = impl_->timeout;
  pending->work = impl_->group->allgather(output, input);
  Pending(pending).wait();
  return output[0];
}

void Group::barrier() {
  auto pending = std::make_shared<Pending::Impl>();
  pending->what = "barrier";
  pending->rank = world_.rank;
  pending->timeout = impl_->timeout;
  pending->work = impl_->group->barrier();
  Pending(pending).wait();
}

void run_together(Group* group, const std::string& what, const std::function<void()>& step) {
  std::exception_ptr error;
  try {
    step();
  } catch (...) {
    error = std::current_exception();
  }
  if (group == nullptr || group->size() == 1) {
    if (error) std::rethrow_exception(error);
    return;
  }
  at::Tensor failed = at::full({1}, error ? 1 : 0, at::kInt);
  group->all_reduce_sum(failed);
  if (error) std::rethrow_exception(error);
  const int others = failed.item<int>();
  if (others > 0) {
    throw DistributedError("rank " + std::to_string(group->rank()) + ": " + what + " failed on " +
                           std::to_string(others) + " other rank(s); their errors say why");
  }
}

at::Tensor gather_shards(Group& group, const at::Tensor& local, int64_t total) {
  const int64_t ranks = group.size();
  const int64_t rows = (total + ranks - 1) / ranks;
  auto shape = local.sizes().vec();
  shape[0] = rows;
  at::Tensor padded = at::zeros(shape, local.options());
  padded.narrow(0, 0, local.size(0)).copy_(local);
  const auto parts = group.all_gather(padded);
  shape[0] = total;
  at::Tensor out = at::empty(shape, local.options());
  for (int64_t r = 0; r < ranks && r < total; ++r) {
    const int64_t count = (total - r + ranks - 1) / ranks;
    out.index_copy_(0, at::arange(r, total, ranks, at::kLong), parts[r].narrow(0, 0, count));
  }
  return out;
}

}  // namespace xfer::dist
