#include "xfer/dist/gradients.h"

#include <ATen/ATen.h>

namespace xfer::dist {

GradientAverager::GradientAverager(Group& group, std::vector<at::Tensor> parameters,
                                   int64_t bucket_bytes)
    : group_(group), parameters_(std::move(parameters)) {
  const size_t n = parameters_.size();
  bucket_of_.resize(n);
  offset_of_.resize(n);
  arrived_.assign(n, false);
  std::vector<int64_t> sizes;  // elements per bucket
  for (size_t k = n; k-- > 0;) {
    const at::Tensor& p = parameters_[k];
    const bool fits = !buckets_.empty() &&
                      sizes.back() * p.element_size() < bucket_bytes &&
                      parameters_[buckets_.back().members.front()].scalar_type() == p.scalar_type() &&
                      parameters_[buckets_.back().members.front()].device() == p.device();
    if (!fits) {
      buckets_.emplace_back();
      sizes.push_back(0);
    }
    bucket_of_[k] = buckets_.size() - 1;
    offset_of_[k] = sizes.back();
    sizes.back() += p.numel();
    buckets_.back().members.push_back(k);
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    buckets_[b].flat = at::zeros({sizes[b]}, parameters_[buckets_[b].members.front()].options()
                                                 .requires_grad(false));
  }
  hooks_.resize(n);
  for (size_t k = 0; k < n; ++k) {
    hooks_[k] = parameters_[k].register_hook([this, k](const at::Tensor& grad) { arrived(k, grad); });
  }
}

GradientAverager::~GradientAverager() {
  for (size_t k = 0; k < parameters_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

void GradientAverager::hold(bool held) {
  held_ = held;
  if (held) carried_ = true;
}

void GradientAverager::arrived(size_t index, const at::Tensor& grad) {
  if (held_) return;
  Bucket& bucket = buckets_[bucket_of_[index]];
  const at::Tensor& p = parameters_[index];
  // A leaf's hook runs before autograd adds `grad` to .grad, which holds the held backwards' sum.
  auto slot = bucket.flat.narrow(0, offset_of_[index], p.numel());
  if (carried_ && p.grad().defined()) {
    at::add_out(slot, p.grad().reshape({-1}), grad.reshape({-1}));
  } else {
    slot.copy_(grad.reshape({-1}));
  }
  if (!arrived_[index]) {
    arrived_[index] = true;
    ++bucket.ready;
  }
  start_ready();
}

// Starts the buckets whose gradients are all there, strictly in bucket order: every rank must
// issue the same collectives in the same sequence.
void GradientAverager::start_ready() {
  while (next_to_start_ < buckets_.size()) {
    Bucket& bucket = buckets_[next_to_start_];
    if (bucket.ready < static_cast<int64_t>(bucket.members.size())) return;
    bucket.pending = group_.all_reduce_sum_async(bucket.flat);
    ++next_to_start_;
  }
}

void GradientAverager::average() {
  for (size_t b = next_to_start_; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    for (size_t k : bucket.members) {
      if (arrived_[k]) continue;
      auto slot = bucket.flat.narrow(0, offset_of_[k], parameters_[k].numel());
      const at::Tensor& held = parameters_[k].grad();
      if (carried_ && held.defined()) {
        slot.copy_(held.reshape({-1}));
      } else {
        slot.zero_();
      }
      arrived_[k] = true;
      ++bucket.ready;
    }
  }
  start_ready();
  const double ranks = static_cast<double>(group_.size());
  for (auto& bucket : buckets_) {
    bucket.pending->wait();
    bucket.pending.reset();
    bucket.ready = 0;
    for (size_t k : bucket.members) {
      at::Tensor& p = parameters_[k];
      const at::Tensor mean = bucket.flat.narrow(0, offset_of_[k], p.numel()).view(p.sizes()) / ranks;
      if (p.grad().defined()) {
        p.mutable_grad().copy_(mean);
      } else {
        p.mutable_grad() = mean.clone();
      }
    }
  }
  arrived_.assign(parameters_.size(), false);
  next_to_start_ = 0;
  carried_ = false;
}

}  // namespace xfer::dist
