#include "xfer/models/taps.h"

#include "xfer/core/error.h"

#include <algorithm>
#include <numeric>

namespace xfer::models {
namespace {

thread_local Taps* active_taps = nullptr;

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "'" : ", '") + item + "'";
  return out;
}

}  // namespace

namespace detail {
void record(const torch::nn::Module* module, const torch::Tensor& output) {
  if (active_taps == nullptr) return;
  const auto found = active_taps->wanted_.find(module);
  if (found != active_taps->wanted_.end()) active_taps->outputs_[found->second] = output;
}
}  // namespace detail

Taps::Taps(const torch::nn::Module& root, const std::vector<std::string>& paths) {
  if (active_taps != nullptr) {
    throw InvalidArgument("taps: expected one Taps at a time on a thread, found a second");
  }
  std::unordered_map<std::string, const torch::nn::Module*> by_path;
  std::vector<std::string> valid;
  for (const auto& item : root.named_modules("", /*include_self=*/false)) {
    by_path.emplace(item.key(), item.value().get());
    valid.push_back(item.key());
  }
  for (const auto& path : paths) {
    const auto found = by_path.find(path);
    if (found == by_path.end()) {
      throw InvalidArgument("unknown module path '" + path + "' in " + root.name() +
                            "; closest valid paths: " + join(closest_paths(path, valid)));
    }
    wanted_.emplace(found->second, path);
  }
  active_taps = this;
}

Taps::~Taps() { active_taps = nullptr; }

std::map<std::string, torch::Tensor> Taps::take() {
  for (const auto& [module, path] : wanted_) {
    if (outputs_.count(path) == 0) {
      throw InvalidArgument("module path '" + path +
                            "' did not run in this forward pass (expected an output, found none)");
    }
  }
  return std::move(outputs_);
}

std::vector<std::string> Taps::paths_of(const torch::nn::Module& root) {
  std::vector<std::string> paths;
  for (const auto& item : root.named_modules("", /*include_self=*/false)) paths.push_back(item.key());
  return paths;
}

torch::Tensor run(torch::nn::Sequential& sequence, const torch::Tensor& input) {
  torch::Tensor x = input;
  for (auto& child : *sequence) {
    x = child.forward(x);
    detail::record(child.ptr().get(), x);
  }
  detail::record(sequence.get(), x);
  return x;
}

torch::Tensor run(torch::nn::AnyModule& module, const torch::Tensor& input) {
  torch::Tensor output = module.forward(input);
  detail::record(module.ptr().get(), output);
  return output;
}

std::vector<std::string> closest_paths(const std::string& path,
                                       const std::vector<std::string>& valid, size_t count) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& candidate : valid) scored.emplace_back(edit_distance(path, candidate), candidate);
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < count; ++i) out.push_back(scored[i].second);
  return out;
}

}  // namespace xfer::models
