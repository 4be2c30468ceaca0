#include "xfer/weights/load.h"

#include "xfer/core/error.h"
#include "xfer/core/shape.h"

#include <torch/torch.h>

#include <sstream>
#include <unordered_set>

namespace xfer::weights {
namespace {

bool under(const std::string& key, const std::string& prefix) {
  if (prefix.empty()) return false;
  return key == prefix || (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0 &&
                           key[prefix.size()] == '.');
}

// A batch-norm's `num_batches_tracked` buffer.
bool is_batch_counter(const std::string& name) {
  const std::string suffix = "num_batches_tracked";
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
         (name.size() == suffix.size() || name[name.size() - suffix.size() - 1] == '.');
}

}  // namespace

StateDict state_dict_of(const torch::nn::Module& module) {
  StateDict out;
  for (const auto& item : module.named_modules()) {
    std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(false)) {
      if (p.value().defined()) out.insert(prefix + p.key(), p.value());
    }
    for (const auto& b : item.value()->named_buffers(false)) {
      if (b.value().defined()) out.insert(prefix + b.key(), b.value());
    }
  }
  return out;
}

std::string LoadReport::summary() const {
  std::ostringstream out;
  size_t expected = loaded.size() + missing.size() + mismatched.size() + wrong_dtype.size();
  out << "loaded " << loaded.size() << " of " << expected << " tensors";
  for (const auto& m : mismatched) {
    out << "\n  wrong shape for '" << m.name << "': got " << shape_text(m.got) << ", expected "
        << shape_text(m.expected);
  }
  for (const auto& m : wrong_dtype) {
    out << "\n  wrong dtype for '" << m.name << "': got " << m.got << ", expected " << m.expected
        << " (integers are not taken for floating-point weights; a quantized model's weights "
           "need a quantized model)";
  }
  for (const auto& name : missing) out << "\n  missing '" << name << "'";
  for (const auto& name : unexpected) out << "\n  unexpected '" << name << "'";
  if (!skipped.empty()) {
    out << "\n  skipped " << skipped.size() << " by prefix:";
    for (const auto& name : skipped) out << " '" << name << "'";
  }
  if (!defaulted.empty()) {
    out << "\n  " << defaulted.size()
        << " batch-norm counters absent from the file (pre-0.4.1 PyTorch), set to 0";
  }
  return out.str();
}

LoadReport load_into(torch::nn::Module& module, const StateDict& weights,
                     const LoadPolicy& policy) {
  StateDict targets = state_dict_of(module);
  LoadReport report;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  for (const auto& item : weights) {
    const std::string& name = item.key();
    if (under(name, policy.skip_prefix())) {
      report.skipped.push_back(name);
      continue;
    }
    torch::Tensor* target = targets.find(name);
    if (!target) {
      report.unexpected.push_back(name);
      continue;
    }
    if (!item.value().defined() || item.value().sizes() != target->sizes()) {
      std::vector<int64_t> got;
      if (item.value().defined()) got = item.value().sizes().vec();
      report.mismatched.push_back({name, got, target->sizes().vec()});
      continue;
    }
    const bool integral = !at::isFloatingType(item.value().scalar_type()) &&
                          !at::isComplexType(item.value().scalar_type());
    if (integral && at::isFloatingType(target->scalar_type())) {
      report.wrong_dtype.push_back(
          {name, dtype_name(item.value().scalar_type()), dtype_name(target->scalar_type())});
      continue;
    }
    report.loaded.push_back(name);
    copies.emplace_back(*target, item.value());
  }
  std::vector<torch::Tensor> zeroed;
  for (const auto& item : targets) {
    if (under(item.key(), policy.skip_prefix()) || weights.contains(item.key())) continue;
    if (is_batch_counter(item.key())) {
      // Files from before PyTorch 0.4.1 have no batch counter; PyTorch's BatchNorm then starts it
      // at zero, and so do we.
      report.defaulted.push_back(item.key());
      zeroed.push_back(item.value());
    } else {
      report.missing.push_back(item.key());
    }
  }
  bool complete = report.missing.empty() && report.unexpected.empty() &&
                  report.mismatched.empty() && report.wrong_dtype.empty();
  if (policy.strict() && !complete) {
    size_t expected = report.loaded.size() + report.missing.size() + report.mismatched.size() +
                      report.wrong_dtype.size();
    std::string text = report.summary();
    throw WeightMismatch("not all tensors loaded: expected " + std::to_string(expected) +
                         ", got " + std::to_string(report.loaded.size()) +
                         text.substr(text.find('\n') == std::string::npos ? text.size()
                                                                          : text.find('\n')));
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, source] : copies) target.copy_(source);
  for (auto& counter : zeroed) counter.zero_();
  return report;
}

}  // namespace xfer::weights
