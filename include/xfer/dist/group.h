#pragma once
// The processes of a data-parallel job and their collectives, on LibTorch's c10d: a TCPStore
// rendezvous at MASTER_ADDR:MASTER_PORT and a Gloo (CPU) or NCCL (CUDA) process group. The c10d
// headers stay in group.cpp; callers see tensors in and tensors out.

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xfer::dist {

/// Where this process stands in a job, as torchrun, SLURM scripts or Kubernetes describe it.
struct World {
  /// This process, from 0 (RANK).
  int64_t rank = 0;
  /// Processes in the job (WORLD_SIZE).
  int64_t size = 1;
  /// This process among those on its machine (LOCAL_RANK; else rank).
  int64_t local_rank = 0;
  /// Processes on this machine (LOCAL_WORLD_SIZE; else size).
  int64_t local_size = 1;
  /// Host of rank 0's store (MASTER_ADDR).
  std::string master_addr;
  /// Port of rank 0's store (MASTER_PORT).
  int port = 0;
};

/// The job described by MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK and
/// LOCAL_WORLD_SIZE; nullopt when WORLD_SIZE is unset. Throws InvalidArgument naming the variable
/// when one is missing or not a number in range.
std::optional<World> world_from_environment();

/// How a process joins its group.
struct GroupOptions {
  /// "gloo" (CPU tensors), "nccl" (CUDA tensors; needs a LibTorch built with it) or "auto"
  /// (nccl when `cuda`, else gloo).
  std::string backend = "auto";
  /// Whether the job trains on CUDA devices (chooses the "auto" backend).
  bool cuda = false;
  /// How long the rendezvous, and then any one collective, may wait for the other ranks.
  std::chrono::seconds timeout{300};
};

/// A collective that is running; wait() returns when its tensors hold the result.
class Pending {
 public:
  /// Blocks until done. Throws DistributedError when a peer failed or the timeout passed.
  void wait();
  /// The implementation's handle (group.cpp).
  struct Impl;
  /// Wraps a handle; for group.cpp.
  explicit Pending(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<Impl> impl_;
};

/// This process's membership of the job: rank, size and the collectives. Every rank must call
/// the same collectives in the same order with tensors of the same shapes.
class Group {
 public:
  /// Joins the job `world` describes: rank 0 serves the store, every rank connects to it and
  /// then to every other rank. Throws DistributedError naming MASTER_ADDR:MASTER_PORT when the
  /// rendezvous does not complete within the timeout, InvalidArgument for an unknown backend
  /// or one this LibTorch lacks.
  static std::unique_ptr<Group> join(const World& world, const GroupOptions& options = {});
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  /// This process, from 0.
  int64_t rank() const { return world_.rank; }
  /// Processes in the job.
  int64_t size() const { return world_.size; }
  /// The job's description.
  const World& world() const { return world_; }
  /// The backend in use ("gloo" or "nccl").
  const std::string& backend() const { return backend_; }
  /// Rank 0, the one that writes the run directory.
  bool is_main() const { return world_.rank == 0; }

  /// Sums contiguous `tensor` element-wise across ranks, in place, in the background.
  Pending all_reduce_sum_async(at::Tensor tensor);
  /// Sums `tensor` element-wise across ranks, in place.
  void all_reduce_sum(at::Tensor tensor);
  /// Replaces each of `tensors` (any layout) in place with rank `root`'s.
  void broadcast(const std::vector<at::Tensor>& tensors, int64_t root = 0);
  /// Every rank's `tensor` (same shape on every rank), in rank order.
  std::vector<at::Tensor> all_gather(const at::Tensor& tensor);
  /// Returns when every rank has called it.
  void barrier();

 private:
  struct Impl;
  Group(World world, std::string backend, std::unique_ptr<Impl> impl);
  World world_;
  std::string backend_;
  std::unique_ptr<Impl> impl_;
};

/// Runs `step` on every rank of `group` (or just here when it is null) and makes them agree on
/// the outcome: a rank whose step threw rethrows its own error once every rank has finished the
/// step, and the others throw DistributedError saying which step failed elsewhere. Keeps a
/// mistake that one rank sees (a missing file, an existing run) from leaving the others waiting.
void run_together(Group* group, const std::string& what, const std::function<void()>& step);

/// The rows of a split sharded across ranks, assembled on every rank: rank r holds rows r,
/// r + W, r + 2W, ... of `total` (W = group.size(); data::shard_positions without padding) in
/// `local` [n_r, ...]; returns [total, ...] in the split's order.
at::Tensor gather_shards(Group& group, const at::Tensor& local, int64_t total);

}  // namespace xfer::dist
