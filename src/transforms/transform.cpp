// Mirrors torchvision 0.14 transforms/transforms.py: Compose of Resize, CenterCrop,
// RandomResizedCrop, RandomCrop, RandomHorizontalFlip, ColorJitter, Grayscale, AutoAugment,
// RandAugment, TrivialAugmentWide, ToTensor, Normalize, RandomErasing.

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
    "auto_augment, rand_augment, trivial_augment, five_crop, normalize, random_erasing";

// The stream RandomErasing draws from, apart from the image steps' (mixed into the sample's
// seed).
constexpr uint64_t kErasingStream = 0x4552415345ULL;

const char* policy_text(AutoAugmentPolicy policy) {
  switch (policy) {
    case AutoAugmentPolicy::kImagenet:
      return "imagenet";
    case AutoAugmentPolicy::kCifar10:
      return "cifar10";
    case AutoAugmentPolicy::kSvhn:
      break;
  }
  return "svhn";
}

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

void check_range(std::array<double, 2> range, const char* what,
                 const char* step = "random_resized_crop") {
  if (!(range[0] > 0) || !(range[0] <= range[1])) {
    throw InvalidArgument(std::string(step) + ": expected a " + what +
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

std::optional<Box> random_erasing_box(Size image, double scale_lo, double scale_hi,
                                      double ratio_lo, double ratio_hi, Rng& rng) {
  if (image.height < 1 || image.width < 1) {
    throw InvalidArgument("random_erasing: expected a non-empty image, got " +
                          std::to_string(image.height) + "x" + std::to_string(image.width));
  }
  check_range({scale_lo, scale_hi}, "scale", "random_erasing");
  check_range({ratio_lo, ratio_hi}, "ratio", "random_erasing");
  const auto area = static_cast<double>(image.height * image.width);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * rng.uniform(scale_lo, scale_hi);
    const double aspect = std::exp(rng.uniform(std::log(ratio_lo), std::log(ratio_hi)));
    // int(round(x)) of Python: half to even.
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area * aspect)));
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area / aspect)));
    if (!(h < image.height && w < image.width)) continue;
    const int64_t top = rng.integer(0, image.height - h);
    const int64_t left = rng.integer(0, image.width - w);
    return Box{top, left, h, w};
  }
  return std::nullopt;
}

Transform Transform::parse(const std::string& spec) {
  Transform transform;
  if (spec.empty()) return transform;
  for (const auto& step : split(spec, ',')) {
    const auto eq = step.find('=');
    const std::string name = step.substr(0, eq);
    const std::vector<std::string> args =
        eq == std::string::npos ? std::vector<std::string>{} : split(step.substr(eq + 1), ':');
    if (transform.erasing_) {
      throw InvalidArgument("transform spec '" + spec +
                            "': expected random_erasing to be the last step, got '" + step +
                            "' after it");
    }
    if (transform.normalize_ && name != "random_erasing") {
      throw InvalidArgument("transform spec '" + spec +
                            "': expected normalize to be the last image step (only "
                            "random_erasing may follow it), got '" +
                            step + "' after it");
    }
    if (name == "resize") {
      const StepParser p(step, "resize=S[:bilinear|bicubic] or resize=HxW[:bilinear|bicubic]");
      if (args.empty() || args.size() > 2) p.fail(step);
      Interpolation interpolation = Interpolation::kBilinear;
      if (args.size() == 2) {
        if (args[1] != "bilinear" && args[1] != "bicubic") p.fail(args[1]);
        interpolation = args[1] == "bicubic" ? Interpolation::kBicubic : Interpolation::kBilinear;
      }
      if (args[0].find('x') == std::string::npos) {
        transform.resize(p.integer(args[0]), interpolation);
      } else {
        transform.resize(p.size(args[0]), interpolation);
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
      const StepParser p(step, "color_jitter=BRIGHTNESS[:CONTRAST[:SATURATION[:HUE]]]");
      if (args.empty() || args.size() > 4) p.fail(step);
      std::array<double, 4> jitter{0, 0, 0, 0};
      for (size_t i = 0; i < args.size(); ++i) jitter[i] = p.real(args[i]);
      transform.color_jitter(jitter[0], jitter[1], jitter[2], jitter[3]);
    } else if (name == "auto_augment") {
      const StepParser p(step, "auto_augment or auto_augment=imagenet, cifar10 or svhn");
      if (args.size() > 1) p.fail(step);
      const std::string policy = args.empty() ? "imagenet" : args[0];
      if (policy == "imagenet") {
        transform.auto_augment(AutoAugmentPolicy::kImagenet);
      } else if (policy == "cifar10") {
        transform.auto_augment(AutoAugmentPolicy::kCifar10);
      } else if (policy == "svhn") {
        transform.auto_augment(AutoAugmentPolicy::kSvhn);
      } else {
        p.fail(policy);
      }
    } else if (name == "rand_augment") {
      const StepParser p(step, "rand_augment[=NUM_OPS[:MAGNITUDE[:BINS]]]");
      if (args.size() > 3) p.fail(step);
      transform.rand_augment(args.size() > 0 ? p.integer(args[0]) : 2,
                             args.size() > 1 ? p.integer(args[1]) : 9,
                             args.size() > 2 ? p.integer(args[2]) : 31);
    } else if (name == "trivial_augment") {
      const StepParser p(step, "trivial_augment[=BINS]");
      if (args.size() > 1) p.fail(step);
      transform.trivial_augment(args.empty() ? 31 : p.integer(args[0]));
    } else if (name == "random_erasing") {
      const StepParser p(step, "random_erasing[=P[:SCALE_LO-SCALE_HI[:RATIO_LO-RATIO_HI]]]");
      if (args.size() > 3) p.fail(step);
      transform.random_erasing(args.size() > 0 ? p.real(args[0]) : 0.5,
                               args.size() > 1 ? p.range(args[1]) : std::array{0.02, 0.33},
                               args.size() > 2 ? p.range(args[2]) : std::array{0.3, 3.3});
    } else if (name == "five_crop") {
      const StepParser p(step, "five_crop=S or five_crop=HxW");
      if (args.size() != 1) p.fail(step);
      transform.five_crop(p.size(args[0]));
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
  transform.resize(params.resize, params.interpolation).center_crop({params.size, params.size});
  transform.normalize(params.mean, params.std);
  return transform;
}

Transform Transform::train(const EvalParams& params) {
  Transform transform;
  transform.random_resized_crop({params.size, params.size}).horizontal_flip(0.5);
  transform.normalize(params.mean, params.std);
  return transform;
}

Transform& Transform::resize(int64_t shorter, Interpolation interpolation) {
  if (shorter < 1) {
    throw InvalidArgument("resize: expected a shorter side >= 1, got " + std::to_string(shorter));
  }
  Step step{Kind::kResizeShorter};
  step.shorter = shorter;
  step.interpolation = interpolation;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::add_sized(Kind kind, Size size, const char* name) {
  check_size(size, name);
  Step step{kind};
  step.size = size;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::resize(Size size, Interpolation interpolation) {
  add_sized(Kind::kResize, size, "resize");
  steps_.back().interpolation = interpolation;
  return *this;
}

Transform& Transform::center_crop(Size size) {
  return add_sized(Kind::kCenterCrop, size, "center_crop");
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

Transform& Transform::color_jitter(double brightness, double contrast, double saturation,
                                   double hue) {
  for (const double value : {brightness, contrast, saturation, hue}) {
    if (!(value >= 0 && hue <= 0.5)) {
      throw InvalidArgument(
          "color_jitter: expected brightness, contrast and saturation >= 0 and a hue in [0, 0.5], "
          "got " +
          number_text(brightness) + ", " + number_text(contrast) + ", " + number_text(saturation) +
          ", " + number_text(hue));
    }
  }
  Step step{Kind::kColorJitter};
  step.jitter = {brightness, contrast, saturation, hue};
  steps_.push_back(step);
  return *this;
}

Transform& Transform::auto_augment(AutoAugmentPolicy policy) {
  Step step{Kind::kAutoAugment};
  step.policy = policy;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::rand_augment(int64_t num_ops, int64_t magnitude, int64_t bins) {
  if (num_ops < 0 || bins < 2 || magnitude < 0 || magnitude >= bins) {
    throw InvalidArgument("rand_augment: expected num_ops >= 0, bins >= 2 and a magnitude in "
                          "[0, bins), got " +
                          std::to_string(num_ops) + ", " + std::to_string(magnitude) + ", " +
                          std::to_string(bins));
  }
  Step step{Kind::kRandAugment};
  step.num_ops = num_ops;
  step.magnitude = magnitude;
  step.bins = bins;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::trivial_augment(int64_t bins) {
  if (bins < 2) {
    throw InvalidArgument("trivial_augment: expected bins >= 2, got " + std::to_string(bins));
  }
  Step step{Kind::kTrivialAugment};
  step.bins = bins;
  steps_.push_back(step);
  return *this;
}

Transform& Transform::five_crop(Size size) { return add_sized(Kind::kFiveCrop, size, "five_crop"); }

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

Transform& Transform::random_erasing(double p, std::array<double, 2> scale,
                                     std::array<double, 2> ratio) {
  if (!(p >= 0 && p <= 1)) {
    throw InvalidArgument("random_erasing: expected a probability in [0, 1], got " +
                          number_text(p));
  }
  check_range(scale, "scale", "random_erasing");
  check_range(ratio, "ratio", "random_erasing");
  erasing_ = Erasing{p, scale, ratio};
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
          image = resize_region(image, size, centered_box(size, next->size), step.interpolation);
          ++index;
        } else {
          image = transforms::resize(image, size, step.interpolation);
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
        std::vector<int64_t> order{0, 1, 2, 3};
        rng.shuffle(order);
        std::array<double, 4> factors{1, 1, 1, 0};
        for (size_t i = 0; i < 3; ++i) {
          const double x = step.jitter[i];
          if (x > 0) factors[i] = rng.uniform(std::max(0.0, 1.0 - x), 1.0 + x);
        }
        if (step.jitter[3] > 0) factors[3] = rng.uniform(-step.jitter[3], step.jitter[3]);
        for (const int64_t op : order) {
          if (step.jitter[static_cast<size_t>(op)] == 0) continue;
          const double f = factors[static_cast<size_t>(op)];
          if (op == 0) image = adjust_brightness(image, f);
          if (op == 1) image = adjust_contrast(image, f);
          if (op == 2) image = adjust_saturation(image, f);
          if (op == 3) image = adjust_hue(image, f);
        }
        break;
      }
      case Kind::kAutoAugment:
        image = transforms::auto_augment(image, step.policy, rng);
        break;
      case Kind::kRandAugment:
        image = transforms::rand_augment(image, step.num_ops, step.magnitude, step.bins, rng);
        break;
      case Kind::kTrivialAugment:
        image = trivial_augment_wide(image, step.bins, rng);
        break;
      case Kind::kFiveCrop: {
        const int64_t h = step.size.height;
        const int64_t w = step.size.width;
        if (h > image.height || w > image.width) {
          throw InvalidArgument("five_crop: expected an image of at least " + size_text(step.size) +
                                ", got " + std::to_string(image.height) + "x" +
                                std::to_string(image.width));
        }
        const std::array<Box, 5> boxes{Box{0, 0, h, w}, Box{0, image.width - w, h, w},
                                       Box{image.height - h, 0, h, w},
                                       Box{image.height - h, image.width - w, h, w},
                                       centered_box({image.height, image.width}, step.size)};
        Image stacked = Image::filled(5 * h, w, image.channels);
        const size_t tile = static_cast<size_t>(h * w * image.channels);
        for (size_t k = 0; k < boxes.size(); ++k) {
          const Image part = crop(image, boxes[k]);
          std::copy(part.pixels.begin(), part.pixels.end(), stacked.pixels.begin() + k * tile);
        }
        image = std::move(stacked);
        break;
      }
      case Kind::kGrayscale:
        image = to_rgb(to_grayscale(image));
        break;
    }
  }
  return image;
}

void Transform::write_tensor(const Image& image, float* out, bool channels_last,
                             uint64_t seed) const {
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
  if (!erasing_) return;
  Rng rng(mix_seed(seed, kErasingStream));
  if (!(rng.uniform(0.0, 1.0) < erasing_->p)) return;
  const auto box = random_erasing_box({image.height, image.width}, erasing_->scale[0],
                                      erasing_->scale[1], erasing_->ratio[0], erasing_->ratio[1],
                                      rng);
  if (!box) return;
  for (int64_t y = box->top; y < box->top + box->height; ++y) {
    for (int64_t x = box->left; x < box->left + box->width; ++x) {
      const auto i = static_cast<size_t>(y * image.width + x);
      for (size_t c = 0; c < 3; ++c) out[channels_last ? i * 3 + c : c * pixels + i] = 0.0f;
    }
  }
}

at::Tensor Transform::operator()(const Image& image, uint64_t seed) const {
  const Image augmented = augment(image, seed);
  at::Tensor tensor = at::empty({3, augmented.height, augmented.width}, at::kFloat);
  write_tensor(augmented, tensor.data_ptr<float>(), false, seed);
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
      case Kind::kFiveCrop:
        size = Size{5 * step.size.height, step.size.width};
        break;
      case Kind::kResizeShorter:
        size.reset();
        break;
      case Kind::kHorizontalFlip:
      case Kind::kColorJitter:
      case Kind::kGrayscale:
      case Kind::kAutoAugment:
      case Kind::kRandAugment:
      case Kind::kTrivialAugment:
        break;
    }
  }
  return size;
}

bool Transform::is_random() const {
  return (erasing_ && erasing_->p > 0) ||
         std::any_of(steps_.begin(), steps_.end(), [](const Step& step) {
           return step.kind == Kind::kRandomResizedCrop || step.kind == Kind::kRandomCrop ||
                  (step.kind == Kind::kHorizontalFlip && step.p > 0) ||
                  step.kind == Kind::kColorJitter || step.kind == Kind::kAutoAugment ||
                  step.kind == Kind::kRandAugment || step.kind == Kind::kTrivialAugment;
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
                        number_text(step.jitter[1]) + ":" + number_text(step.jitter[2]) + ":" +
                        number_text(step.jitter[3]));
        break;
      case Kind::kAutoAugment:
        parts.push_back(std::string("auto_augment=") + policy_text(step.policy));
        break;
      case Kind::kRandAugment:
        parts.push_back("rand_augment=" + std::to_string(step.num_ops) + ":" +
                        std::to_string(step.magnitude) + ":" + std::to_string(step.bins));
        break;
      case Kind::kTrivialAugment:
        parts.push_back("trivial_augment=" + std::to_string(step.bins));
        break;
      case Kind::kGrayscale:
        parts.push_back("grayscale");
        break;
      case Kind::kFiveCrop:
        parts.push_back("five_crop=" + size_text(step.size));
        break;
    }
  }
  if (normalize_) {
    std::string text = "normalize=";
    for (size_t c = 0; c < 3; ++c) text += number_text(mean_[c]) + ":";
    for (size_t c = 0; c < 3; ++c) text += number_text(std_[c]) + (c < 2 ? ":" : "");
    parts.push_back(text);
  }
  if (erasing_) {
    parts.push_back("random_erasing=" + number_text(erasing_->p) + ":" +
                    number_text(erasing_->scale[0]) + "-" + number_text(erasing_->scale[1]) +
                    ":" + number_text(erasing_->ratio[0]) + "-" + number_text(erasing_->ratio[1]));
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
  return out;
}

}  // namespace xfer::transforms
