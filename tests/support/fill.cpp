#include "support/fill.h"

#include "xfer/core/error.h"

#include <torch/torch.h>

#include <cmath>

namespace xfer::testing {
namespace {

// He's gain for ReLU networks: weight variance kWeightGain / fan_in.
constexpr double kWeightGain = 2.0;

// The last component of a dotted name (`running_var` of `layer1.0.bn1.running_var`).
std::string last_component(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

// The affine map applied to the periodic sequence, chosen by the name's last component and the
// rank (see fill.h).
std::pair<double, double> offset_and_scale(const std::string& name,
                                           const std::vector<int64_t>& shape, int64_t numel) {
  if (shape.size() >= 2) {
    const int64_t fan_in = numel / shape[0];
    return {0.0, std::sqrt(2.0 * kWeightGain / static_cast<double>(fan_in))};
  }
  const std::string last = last_component(name);
  if (last == "running_var" || last == "weight") return {1.0, 0.25};
  return {0.0, 0.1};
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

uint64_t fill_name_hash(const std::string& name) {
  uint64_t hash = 0xCBF29CE484222325ULL;
  for (const char byte : name) {
    hash ^= static_cast<unsigned char>(byte);
    hash *= 0x100000001B3ULL;
  }
  return hash;
}

torch::Tensor closed_form_tensor(const std::string& name, const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (const int64_t dim : shape) {
    if (dim < 0) {
      throw InvalidArgument("closed_form_tensor: " + name + ": expected non-negative dimensions, got " +
                            shape_text(shape));
    }
    numel *= dim;
  }
  const uint64_t hash = fill_name_hash(name);
  const auto period = static_cast<uint64_t>(kFillPeriod);
  const auto a = static_cast<int64_t>(1 + hash % (period - 1));
  const auto c = static_cast<int64_t>((hash >> 16) % period);
  const auto b = static_cast<int64_t>((hash >> 32) % period);

  // The same tensor operations, in the same order, as tools/make_parity_references.py.
  const torch::Tensor j = torch::arange(kFillPeriod, torch::kLong);
  const torch::Tensor r = torch::remainder(j * j * a + j * c + b, kFillPeriod);
  const torch::Tensor g = torch::cos(r.to(torch::kDouble) * (2.0 * M_PI / kFillPeriod));
  const auto [offset, scale] = offset_and_scale(name, shape, numel);
  const torch::Tensor one_period = (g * scale + offset).to(torch::kFloat);
  const int64_t repeats = std::max<int64_t>((numel + kFillPeriod - 1) / kFillPeriod, 1);
  return one_period.repeat({repeats}).slice(0, 0, numel).reshape(shape);
}

void fill_closed_form(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  auto fill = [](const std::string& name, torch::Tensor& tensor) {
    if (!tensor.is_floating_point()) return;
    tensor.copy_(closed_form_tensor(name, tensor.sizes().vec()));
  };
  for (auto& item : module.named_parameters()) fill(item.key(), item.value());
  for (auto& item : module.named_buffers()) fill(item.key(), item.value());
}

torch::Tensor closed_form_images(int64_t n, int64_t h, int64_t w) {
  if (n < 1 || h < 1 || w < 1) {
    throw InvalidArgument("closed_form_images: expected a positive batch, height and width, got " +
                          shape_text({n, 3, h, w}));
  }
  const auto grid = [](int64_t size, int axis) {
    std::vector<int64_t> shape{1, 1, 1, 1};
    shape[axis] = size;
    return torch::arange(size, torch::kDouble).view(shape);
  };
  const torch::Tensor k = grid(n, 0);
  const torch::Tensor c = grid(3, 1);
  const torch::Tensor y = grid(h, 2);
  const torch::Tensor x = grid(w, 3);
  // The same tensor operations, in the same order, as tools/make_parity_references.py.
  const torch::Tensor first = torch::sin(y * (c + 1.0) * 0.071 + x * 0.113 + c * 1.3 + k * 2.9);
  const torch::Tensor second = torch::cos(x * y * 0.0037 + k * 0.5 - c) * 0.5;
  return (first + second).to(torch::kFloat);
}

}  // namespace xfer::testing
