// Mirrors torchvision 0.14 transforms/transforms.py: Compose of Resize, CenterCrop,
// RandomResizedCrop, RandomCrop, RandomHorizontalFlip, ColorJitter, Grayscale, ToTensor, Normalize.

#include "xfer/transforms/transform.h"

#include "xfer/core/error.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace xfer::transforms {
namespace {

constexpr const char* kSteps =
    "resize, center_crop, random_resized_crop, random_crop, hflip, color_jitter, grayscale, "
    "normalize";

// The shortest text that reads back as the same double.
std::string number_text(double value) {
  std::string text;
  for (int precision = 1; precision <= 17; ++precision) {
    std::ostringstream out;
    out.precision(precision);
    out << value;
    text = out.str();
    if (std::strtod(text.c_str(), nullptr) == value) break;
  }
  return text;
}

std::string size_text(Size size) {
  return size.height == size.width ? std::to_string(size.height)
                                   : std::to_string(size.height) + "x" + std::to_string(size.width);
}

void check_size(Size size, const char* step) {
  if (size.height < 1 || size.width < 1) {
    throw InvalidArgument(std::string(step) + ": expected a size of at least 1x1, got " +
                          std::to_string(size.height) + "x" + std::to_string(size.width));
  }
}

void check_range(std::array<double, 2> range, const char* what) {
  if (!(range[0] > 0) || !(range[0] <= range[1])) {
    throw InvalidArgument(std::string("random_resized_crop: expected a ") + what +
                          " range 0 < lo <= hi, got " + number_text(range[0]) + "-" +
                          number_text(range[1]));
  }
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  if (!text.empty() && text.back() == separator) parts.emplace_back();
  return parts;
}

// Parses one step's arguments; `fail` throws the step's usage error.
class StepParser {
 public:
  StepParser(std::string step, std::string usage)
      : step_(std::move(step)), usage_(std::move(usage)) {}

  [[noreturn]] void fail(const std::string& found) const {
    throw InvalidArgument("transform spec '" + step_ + "': expected " + usage_ + ", got '" + found +
                          "'");
  }

  int64_t integer(const std::string& text) const {
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value < 0) fail(text);
    return value;
  }

  double real(const std::string& text) const {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(value)) fail(text);
    return value;
  }

  Size size(const std::string& text) const {
    const auto x = text.find('x');
    if (x == std::string::npos) {
      const int64_t side = integer(text);
      return {side, side};
    }
    return {integer(text.substr(0, x)), integer(text.substr(x + 1))};
  }

  std::array<double, 2> range(const std::string& text) const {
    const auto dash = text.find('-');
    if (dash == std::string::npos || dash == 0) fail(text);
    return {real(text.substr(0, dash)), real(text.substr(dash + 1))};
  }

 private:
  std::string step_;
  std::string usage_;
};

}  // namespace

Box random_resized_crop_box(Size image, double scale_lo, double scale_hi, double ratio_lo,
                            double ratio_hi, Rng& rng) {
  if (image.height < 1 || image.width < 1) {
    throw InvalidArgument("random_resized_crop: expected a non-empty image, got " +
                          std::to_string(image.height) + "x" + std::to_string(image.width));
  }
  check_range({scale_lo, scale_hi}, "scale");
  check_range({ratio_lo, ratio_hi}, "ratio");
  const auto area = static_cast<double>(image.height * image.width);
  const double log_lo = std::log(ratio_lo);
  const double log_hi = std::log(ratio_hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale_lo, scale_hi);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    // int(round(x)) of Python: half to even.
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= image.width && 0 < h && h <= image.height) {
      const int64_t top = rng.integer(0, image.height - h);
      const int64_t left = rng.integer(0, image.width - w);
      return {top, left, h, w};
    }
  }
  const double in_ratio = static_cast<double>(image.width) / static_cast<double>(image.height);
  int64_t w = image.width;
  int64_t h = image.height;
  if (in_ratio < ratio_lo) {
    h = static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / ratio_lo));
  } else if (in_ratio > ratio_hi) {
    w = static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * ratio_hi));
  }
  return {(image.height - h) / 2, (image.width - w) / 2, h, w};
}

Transform Transform::parse(const std::string& spec) {
  Transform transform;
  if (spec.empty()) return transform;
  for (const auto& step : split(spec, ',')) {
    const auto eq = step.find('=');
    const std::string name = step.substr(0, eq);
    const std::vector<std::string> args =
        eq == std::string::npos ? std::vector<std::string>{} : split(step.substr(eq + 1), ':');
    if (transform.normalize_) {
      throw InvalidArgument("transform spec '" + spec +
                            "': expected normalize to be the last step, "
                            "got '" +
                            step + "' after it");
    }
    if (name == "resize") {
      const StepParser p(step, "resize=S or resize=HxW");
      if (args.size() != 1) p.fail(step);
      if (args[0].find('x') == std::string::npos) {
        transform.resize(p.integer(args[0]));
      } else {
        transform.resize(p.size(args[0]));
      }
    } else if (name == "center_crop") {
      const StepParser p(step, "center_crop=S or center_crop=HxW");
      if (args.size() != 1) p.fail(step);
      transform.center_crop(p.size(args[0]));
    } else if (name == "random_resized_crop") {
      const StepParser p(step, "random_resized_crop=S[:SCALE_LO-SCALE_HI[:RATIO_LO-RATIO_HI]]");
      if (args.empty() || args.size() > 3) p.fail(step);
      transform.random_resized_crop(
          p.size(args[0]), args.size() > 1 ? p.range(args[1]) : std::array{0.08, 1.0},
          args.size() > 2 ? p.range(args[2]) : std::array{3.0 / 4.0, 4.0 / 3.0});
    } else if (name == "random_crop") {
      const StepParser p(step, "random_crop=S[:PADDING]");
      if (args.empty() || args.size() > 2) p.fail(step);
      transform.random_crop(p.size(args[0]), args.size() > 1 ? p.integer(args[1]) : 0);
    } else if (name == "hflip") {
      const StepParser p(step, "hflip or hflip=P");
      if (args.size() > 1) p.fail(step);
      transform.horizontal_flip(args.empty() ? 0.5 : p.real(args[0]));
    } else if (name == "color_jitter") {
      const StepParser p(step, "color_jitter=BRIGHTNESS[:CONTRAST[:SATURATION]]");
      if (args.empty() || args.size() > 3) p.fail(step);
      std::array<double, 3> jitter{0, 0, 0};
      for (size_t i = 0; i < args.size(); ++i) jitter[i] = p.real(args[i]);
      transform.color_jitter(jitter[0], jitter[1], jitter[2]);
    } else if (name == "grayscale") {
      if (!args.empty()) StepParser(step, "grayscale without arguments").fail(step);
      transform.grayscale();
    } else if (name == "normalize") {
      const StepParser p(step, "normalize=imagenet, cifar10, half or M:M:M:S:S:S");
      if (args.size() == 1 && args[0] == "imagenet") {
        transform.normalize(kImagenetMean, kImagenetStd);
      } else if (args.size() == 1 && args[0] == "cifar10") {
        transform.normalize({0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616});
      } else if (args.size() == 1 && args[0] == "half") {
        transform.normalize({0.5, 0.5, 0.5}, {0.5, 0.5, 0.5});
      } else if (args.size() == 6) {
        transform.normalize({p.real(args[0]), p.real(args[1]), p.real(args[2])},
                            {p.real(args[3]), p.real(args[4]), p.real(args[5])});
      } else {
        p.fail(step);
      }
    } else {
      throw InvalidArgument("transform spec '" + spec + "': unknown step '" + name +
                            "' (expected one of " + kSteps + ")");
    }
  }
  return transform;
}

Transform Transform::eval(const EvalParams& params) {
  Transform transform;
  transform.resize(params.resize).center_crop({params.size, params.size});
  transform.normalize(params.mean, params.std);
  return transform;
}

Transform Transform::train(const EvalParams& params) {
  Transform transform;
  transform.random_resized_crop({params.size, params.size}).horizontal_flip(0.5);
  transform.normalize(params.mean, params.std);
  return transform;
}

Transform& Transform::resize(int64_t shorter) {
  if (shorter < 1) {
    throw InvalidArgument("resize: expected a shorter side >= 1, got " + std::to_string(shorter));
  }
  Step step{Kind::kResizeShorter};
  step.shorter = shorter;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::resize(Size size) {
  check_size(size, "resize");
  Step step{Kind::kResize};
  step.size = size;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::center_crop(Size size) {
  check_size(size, "center_crop");
  Step step{Kind::kCenterCrop};
  step.size = size;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::random_resized_crop(Size size, std::array<double, 2> scale,
                                          std::array<double, 2> ratio) {
  check_size(size, "random_resized_crop");
  check_range(scale, "scale");
  check_range(ratio, "ratio");
  Step step{Kind::kRandomResizedCrop};
  step.size = size;
  step.scale = scale;
  step.ratio = ratio;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::random_crop(Size size, int64_t padding) {
  check_size(size, "random_crop");
  if (padding < 0) {
    throw InvalidArgument("random_crop: expected a padding >= 0, got " + std::to_string(padding));
  }
  Step step{Kind::kRandomCrop};
  step.size = size;
  step.padding = padding;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::horizontal_flip(double p) {
  if (!(p >= 0 && p <= 1)) {
    throw InvalidArgument("hflip: expected a probability in [0, 1], got " + number_text(p));
  }
  Step step{Kind::kHorizontalFlip};
  step.p = p;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::color_jitter(double brightness, double contrast, double saturation) {
  for (const double value : {brightness, contrast, saturation}) {
    if (!(value >= 0)) {
      throw InvalidArgument(
          "color_jitter: expected brightness, contrast and saturation >= 0, got " +
          number_text(brightness) + ", " + number_text(contrast) + ", " + number_text(saturation));
    }
  }
  Step step{Kind::kColorJitter};
  step.jitter = {brightness, contrast, saturation};
  steps_.push_back(step);
  return *this;
}

Transform& Transform::grayscale() {
  steps_.push_back(Step{Kind::kGrayscale});
  return *this;
}

Transform& Transform::normalize(std::array<double, 3> mean, std::array<double, 3> std) {
  for (const double s : std) {
    if (!(s > 0)) {
      throw InvalidArgument("normalize: expected every std > 0, got " + number_text(std[0]) + ", " +
                            number_text(std[1]) + ", " + number_text(std[2]));
    }
  }
  normalize_ = true;
  mean_ = mean;
  std_ = std;
  return *this;
}

Image Transform::augment(Image image, uint64_t seed) const {
  Rng rng(seed);
  for (size_t index = 0; index < steps_.size(); ++index) {
    const auto& step = steps_[index];
    switch (step.kind) {
      case Kind::kResizeShorter:
      case Kind::kResize: {
        const Size size = step.kind == Kind::kResize
                              ? step.size
                              : resized_size({image.height, image.width}, step.shorter);
        // Resize then CenterCrop (an eval transform): only the pixels the crop keeps are
        // resampled, the same bytes as both steps in turn.
        const Step* next = index + 1 < steps_.size() ? &steps_[index + 1] : nullptr;
        if (next != nullptr && next->kind == Kind::kCenterCrop &&
            next->size.height <= size.height && next->size.width <= size.width) {
          image = resize_region(image, size, centered_box(size, next->size));
          ++index;
        } else {
          image = transforms::resize(image, size);
        }
        break;
      }
      case Kind::kCenterCrop:
        image = transforms::center_crop(image, step.size);
        break;
      case Kind::kRandomResizedCrop: {
        const Box box = random_resized_crop_box({image.height, image.width}, step.scale[0],
                                                step.scale[1], step.ratio[0], step.ratio[1], rng);
        image = transforms::resize(crop(image, box), step.size);
        break;
      }
      case Kind::kRandomCrop: {
        if (step.padding > 0) {
          image = pad(image, step.padding, step.padding, step.padding, step.padding, 0);
        }
        if (image.height < step.size.height || image.width < step.size.width) {
          throw InvalidArgument("random_crop: expected an image of at least " +
                                std::to_string(step.size.height) + "x" +
                                std::to_string(step.size.width) + " after padding, got " +
                                std::to_string(image.height) + "x" + std::to_string(image.width));
        }
        if (image.height == step.size.height && image.width == step.size.width) break;
        const int64_t top = rng.integer(0, image.height - step.size.height);
        const int64_t left = rng.integer(0, image.width - step.size.width);
        image = crop(image, {top, left, step.size.height, step.size.width});
        break;
      }
      case Kind::kHorizontalFlip:
        if (rng.uniform(0.0, 1.0) < step.p) image = hflip(image);
        break;
      case Kind::kColorJitter: {
        std::vector<int64_t> order{0, 1, 2};
        rng.shuffle(order);
        std::array<double, 3> factors{1, 1, 1};
        for (size_t i = 0; i < 3; ++i) {
          const double x = step.jitter[i];
          if (x > 0) factors[i] = rng.uniform(std::max(0.0, 1.0 - x), 1.0 + x);
        }
        for (const int64_t op : order) {
          if (step.jitter[static_cast<size_t>(op)] == 0) continue;
          const double f = factors[static_cast<size_t>(op)];
          if (op == 0) image = adjust_brightness(image, f);
          if (op == 1) image = adjust_contrast(image, f);
          if (op == 2) image = adjust_saturation(image, f);
        }
        break;
      }
      case Kind::kGrayscale:
        image = to_rgb(to_grayscale(image));
        break;
    }
  }
  return image;
}

void Transform::write_tensor(const Image& image, float* out, bool channels_last) const {
  // ToTensor divides in float32, Normalize subtracts then divides by float32 mean/std: the same
  // operations, in the same order, per possible byte value.
  std::array<std::array<float, 256>, 3> lut;
  for (size_t c = 0; c < 3; ++c) {
    const auto mean = static_cast<float>(mean_[c]);
    const auto std = static_cast<float>(std_[c]);
    for (int v = 0; v < 256; ++v) {
      const float scaled = static_cast<float>(v) / 255.0f;
      lut[c][static_cast<size_t>(v)] = normalize_ ? (scaled - mean) / std : scaled;
    }
  }
  const auto pixels = static_cast<size_t>(image.height * image.width);
  const size_t step = static_cast<size_t>(image.channels);
  const uint8_t* in = image.pixels.data();
  if (channels_last) {
    for (size_t i = 0; i < pixels; ++i, in += step) {
      for (size_t c = 0; c < 3; ++c) out[i * 3 + c] = lut[c][in[step == 3 ? c : 0]];
    }
  } else {
    for (size_t c = 0; c < 3; ++c) {
      const uint8_t* src = image.pixels.data() + (step == 3 ? c : 0);
      float* plane = out + c * pixels;
      for (size_t i = 0; i < pixels; ++i) plane[i] = lut[c][src[i * step]];
    }
  }
}

at::Tensor Transform::operator()(const Image& image, uint64_t seed) const {
  const Image augmented = augment(image, seed);
  at::Tensor tensor = at::empty({3, augmented.height, augmented.width}, at::kFloat);
  write_tensor(augmented, tensor.data_ptr<float>(), false);
  return tensor;
}

std::optional<Size> Transform::output_size() const {
  std::optional<Size> size;
  for (const auto& step : steps_) {
    switch (step.kind) {
      case Kind::kResize:
      case Kind::kCenterCrop:
      case Kind::kRandomResizedCrop:
      case Kind::kRandomCrop:
        size = step.size;
        break;
      case Kind::kResizeShorter:
        size.reset();
        break;
      case Kind::kHorizontalFlip:
      case Kind::kColorJitter:
      case Kind::kGrayscale:
        break;
    }
  }
  return size;
}

bool Transform::is_random() const {
  return std::any_of(steps_.begin(), steps_.end(), [](const Step& step) {
    return step.kind == Kind::kRandomResizedCrop || step.kind == Kind::kRandomCrop ||
           (step.kind == Kind::kHorizontalFlip && step.p > 0) || step.kind == Kind::kColorJitter;
  });
}

std::string Transform::spec() const {
  std::vector<std::string> parts;
  for (const auto& step : steps_) {
    switch (step.kind) {
      case Kind::kResizeShorter:
        parts.push_back("resize=" + std::to_string(step.shorter));
        break;
      case Kind::kResize:
        parts.push_back("resize=" + std::to_string(step.size.height) + "x" +
                        std::to_string(step.size.width));
        break;
      case Kind::kCenterCrop:
        parts.push_back("center_crop=" + size_text(step.size));
        break;
      case Kind::kRandomResizedCrop:
        parts.push_back("random_resized_crop=" + size_text(step.size) + ":" +
                        number_text(step.scale[0]) + "-" + number_text(step.scale[1]) + ":" +
                        number_text(step.ratio[0]) + "-" + number_text(step.ratio[1]));
        break;
      case Kind::kRandomCrop:
        parts.push_back("random_crop=" + size_text(step.size) + ":" + std::to_string(step.padding));
        break;
      case Kind::kHorizontalFlip:
        parts.push_back("hflip=" + number_text(step.p));
        break;
      case Kind::kColorJitter:
        parts.push_back("color_jitter=" + number_text(step.jitter[0]) + ":" +
                        number_text(step.jitter[1]) + ":" + number_text(step.jitter[2]));
        break;
      case Kind::kGrayscale:
        parts.push_back("grayscale");
        break;
    }
  }
  if (normalize_) {
    std::string text = "normalize=";
    for (size_t c = 0; c < 3; ++c) text += number_text(mean_[c]) + ":";
    for (size_t c = 0; c < 3; ++c) text += number_text(std_[c]) + (c < 2 ? ":" : "");
    parts.push_back(text);
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
  return out;
}

}  // namespace xfer::transforms
