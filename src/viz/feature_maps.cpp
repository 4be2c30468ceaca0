#include "xfer/viz/feature_maps.h"

#include "detail/canvas.h"
#include "detail/format.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/core/shape.h"
#include "xfer/transforms/functional.h"
#include "xfer/transforms/transform.h"
#include "xfer/viz/colormap.h"

#include <torch/nn/modules/conv.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <system_error>

namespace xfer::viz {
namespace {

constexpr int64_t kMargin = 16;
constexpr int64_t kGap = 16;
constexpr int64_t kHeader = 78;    // title, subtitle, colour bar
constexpr int64_t kCaption = 40;   // two lines under a panel
constexpr int64_t kMinCell = 150;  // wide enough for a caption

// [C, H, W] from [C, H, W] or [1, C, H, W]; throws for anything else.
at::Tensor as_map(const at::Tensor& activation, const std::string& what) {
  if (activation.defined() && at::isFloatingType(activation.scalar_type())) {
    if (activation.dim() == 4 && activation.size(0) == 1) return activation[0];
    if (activation.dim() == 3) return activation;
  }
  throw InvalidArgument(what + ": expected an activation [C, H, W] or [1, C, H, W] " +
                        "of a floating type, got " +
                        (activation.defined() ? shape_text(activation.sizes())
                                              : std::string("an undefined tensor")));
}

void check_options(const FeatureMapOptions& options) {
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"channels", options.channels()},
                                    {"tile", options.tile()},
                                    {"columns", options.columns()}}) {
    if (value < 1) {
      throw InvalidArgument(std::string("feature map: expected ") + name + " of at least 1, got " +
                            std::to_string(value));
    }
  }
}

// The part of the model that forward_with reaches in eval mode: GoogLeNet's auxiliary
// classifiers (`aux1`, `aux2`) run only in training.
bool runs_in_eval(const std::string& path) { return path.rfind("aux", 0) != 0; }

// Switches every module of a model to eval mode, and each back to its own mode when destroyed
// (a trainer keeps frozen parts in eval mode while the rest trains).
class EvalModeScope {
 public:
  explicit EvalModeScope(torch::nn::Module& root) {
    for (const auto& module : root.modules(/*include_self=*/true)) {
      modes_.emplace_back(module, module->is_training());
    }
    root.eval();
  }
  ~EvalModeScope() {
    // Parents come first in modules(), and train() recurses: each child is set after its parent.
    for (const auto& [module, training] : modes_) module->train(training);
  }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> modes_;
};

// `image` scaled (Pillow's bilinear, as the transforms) to fit inside `box`, aspect kept.
transforms::Image fit(const transforms::Image& image, int64_t width, int64_t height) {
  const double scale = std::min(static_cast<double>(width) / static_cast<double>(image.width),
                                static_cast<double>(height) / static_cast<double>(image.height));
  const transforms::Size size{
      std::max<int64_t>(1, std::llround(static_cast<double>(image.height) * scale)),
      std::max<int64_t>(1, std::llround(static_cast<double>(image.width) * scale))};
  if (size == transforms::Size{image.height, image.width}) return image;
  return transforms::resize(image, size);
}

}  // namespace

FeatureMapLayout feature_map_layout(int64_t map_height, int64_t map_width, int64_t tiles,
                                    const FeatureMapOptions& options) {
  check_options(options);
  if (map_height < 1 || map_width < 1 || tiles < 1) {
    throw InvalidArgument("feature map: expected a map of at least 1x1 and at least 1 tile, got " +
                          std::to_string(map_height) + "x" + std::to_string(map_width) + " and " +
                          std::to_string(tiles));
  }
  FeatureMapLayout layout;
  const int64_t longer = std::max(map_height, map_width);
  layout.scale = std::max<int64_t>(1, (options.tile() + longer - 1) / longer);
  if (longer > detail::kMaxSide || layout.scale * longer > detail::kMaxSide) {
    throw InvalidArgument("feature map: a " + std::to_string(map_height) + "x" +
                          std::to_string(map_width) + " map at " + std::to_string(layout.scale) +
                          " pixels a value exceeds " + std::to_string(detail::kMaxSide) +
                          " pixels");
  }
  const int64_t tile_w = map_width * layout.scale;
  const int64_t tile_h = map_height * layout.scale;
  const int64_t cell_w = std::max(tile_w, kMinCell);
  const int64_t cell_h = tile_h + kCaption;
  const int64_t panels = tiles + 1;
  const int64_t columns = std::min(options.columns(), panels);
  const int64_t rows = (panels + columns - 1) / columns;
  layout.width = 2 * kMargin + columns * cell_w + (columns - 1) * kGap;
  layout.height = kMargin + kHeader + rows * cell_h + (rows - 1) * kGap + kMargin;
  if (layout.width > detail::kMaxSide || layout.height > detail::kMaxSide) {
    throw InvalidArgument("feature map: " + std::to_string(tiles) + " tiles of " +
                          std::to_string(tile_w) + "x" + std::to_string(tile_h) +
                          " pixels make a picture of " + std::to_string(layout.width) + "x" +
                          std::to_string(layout.height) + ", above " +
                          std::to_string(detail::kMaxSide) + " a side; draw fewer channels");
  }
  for (int64_t k = 0; k < panels; ++k) {
    const int64_t column = k % columns;
    const int64_t row = k / columns;
    const Rect rect{kMargin + column * (cell_w + kGap) + (cell_w - tile_w) / 2,
                    kMargin + kHeader + row * (cell_h + kGap), tile_w, tile_h};
    if (k == 0) {
      layout.input = rect;
    } else {
      layout.tiles.push_back(rect);
    }
  }
  return layout;
}

std::vector<int64_t> choose_channels(const at::Tensor& activation,
                                     const FeatureMapOptions& options) {
  check_options(options);
  const at::Tensor map = as_map(activation, "feature map");
  const int64_t count = std::min(options.channels(), map.size(0));
  std::vector<int64_t> channels(static_cast<size_t>(map.size(0)));
  std::iota(channels.begin(), channels.end(), 0);
  if (options.choice() == ChannelChoice::kMostActive) {
    const at::Tensor activity =
        map.detach().to(at::kCPU, at::kDouble).abs().mean({1, 2}).contiguous();
    const double* score = activity.data_ptr<double>();
    // NaN counts as the least active.
    auto key = [&](int64_t c) { return std::isnan(score[c]) ? -1.0 : score[c]; };
    std::stable_sort(channels.begin(), channels.end(),
                     [&](int64_t a, int64_t b) { return key(a) > key(b); });
  }
  channels.resize(static_cast<size_t>(count));
  return channels;
}

transforms::Image render_channel(const at::Tensor& activation, int64_t channel, int64_t scale) {
  const at::Tensor map = as_map(activation, "feature map");
  if (channel < 0 || channel >= map.size(0) || scale < 1) {
    throw InvalidArgument("feature map: expected a channel in [0, " + std::to_string(map.size(0)) +
                          ") and a scale of at least 1, got " + std::to_string(channel) + " and " +
                          std::to_string(scale));
  }
  const int64_t h = map.size(1);
  const int64_t w = map.size(2);
  const at::Tensor values = map[channel].detach().to(at::kCPU, at::kDouble).contiguous();
  const double* v = values.data_ptr<double>();
  const auto [lo, hi] = detail::finite_range(v, h * w);
  const auto& colours = viridis();
  auto image = transforms::Image::filled(h * scale, w * scale, 3);
  for (int64_t y = 0; y < h * scale; ++y) {
    for (int64_t x = 0; x < w * scale; ++x) {
      const double value = v[(y / scale) * w + x / scale];
      const double t = hi > lo ? (value - lo) / (hi - lo) : 0.0;
      const Rgb rgb = colours[static_cast<size_t>(viridis_index(t))];
      uint8_t* pixel = &image.pixels[static_cast<size_t>((y * image.width + x) * 3)];
      pixel[0] = rgb.r;
      pixel[1] = rgb.g;
      pixel[2] = rgb.b;
    }
  }
  return image;
}

std::string draw_feature_map(const transforms::Image& display, const at::Tensor& activation,
                             const std::string& layer, const FeatureMapOptions& options) {
  const at::Tensor map = as_map(activation, "feature map of '" + layer + "'");
  if (display.empty()) {
    throw InvalidArgument("feature map of '" + layer +
                          "': expected an input image, got an empty one");
  }
  const auto channels = choose_channels(map, options);
  const auto layout =
      feature_map_layout(map.size(1), map.size(2), static_cast<int64_t>(channels.size()), options);
  detail::Canvas canvas(static_cast<int>(layout.width), static_cast<int>(layout.height));
  const detail::Colour ink = detail::hex(0x1a1a1a);
  const detail::Colour grey = detail::hex(0x5f5f5f);
  const detail::Colour frame = detail::hex(0xbdbdbd);

  detail::TextStyle title;
  title.size = 20;
  title.bold = true;
  title.max_width = static_cast<double>(layout.width - 2 * kMargin);
  canvas.text(layer, kMargin, kMargin, title);
  detail::TextStyle note;
  note.size = 13;
  note.colour = grey;
  note.max_width = title.max_width;
  const std::string which = options.choice() == ChannelChoice::kFirst
                                ? "the first " + std::to_string(channels.size())
                                : "the " + std::to_string(channels.size()) + " most active";
  canvas.text("output " + shape_text(map.sizes()) + "; " + which + " of " +
                  std::to_string(map.size(0)) + " channels, " + std::to_string(layout.scale) + "x" +
                  std::to_string(layout.scale) + " pixels a value",
              kMargin, kMargin + 28, note);
  // The colour bar: each channel runs from its own minimum (left) to its maximum (right).
  const int64_t bar_y = kMargin + 52;
  canvas.text("min", kMargin, bar_y - 2, note);
  const int64_t bar_x = kMargin + 34;
  const auto& colours = viridis();
  for (int i = 0; i < 256; ++i) {
    canvas.fill_rect(static_cast<double>(bar_x) + i * 0.75, bar_y, 0.75, 12,
                     detail::from_rgb(colours[static_cast<size_t>(i)]));
  }
  canvas.text("max (per channel)", static_cast<double>(bar_x) + 198, bar_y - 2, note);

  detail::TextStyle caption;
  caption.size = 13;
  caption.bold = true;
  caption.colour = ink;
  caption.align = detail::Align::kCenter;
  detail::TextStyle range = note;
  range.size = 11;
  range.align = detail::Align::kCenter;

  const Rect& in = layout.input;
  const auto shown = fit(transforms::to_rgb(display), in.width, in.height);
  const int64_t sx = in.x + (in.width - shown.width) / 2;
  const int64_t sy = in.y + (in.height - shown.height) / 2;
  canvas.stroke_rect(static_cast<double>(sx) - 0.5, static_cast<double>(sy) - 0.5,
                     static_cast<double>(shown.width) + 1, static_cast<double>(shown.height) + 1,
                     frame, 1);
  canvas.blit(shown, static_cast<int>(sx), static_cast<int>(sy));
  const double centre = static_cast<double>(in.x) + static_cast<double>(in.width) / 2;
  caption.max_width = range.max_width = static_cast<double>(std::max(in.width, kMinCell));
  canvas.text("input", centre, static_cast<double>(in.y + in.height + 4), caption);
  canvas.text(std::to_string(display.width) + "x" + std::to_string(display.height) + " eval crop",
              centre, static_cast<double>(in.y + in.height + 22), range);

  for (size_t k = 0; k < channels.size(); ++k) {
    const Rect& r = layout.tiles[k];
    const int64_t c = channels[k];
    canvas.stroke_rect(static_cast<double>(r.x) - 0.5, static_cast<double>(r.y) - 0.5,
                       static_cast<double>(r.width) + 1, static_cast<double>(r.height) + 1, frame,
                       1);
    canvas.blit(render_channel(map, c, layout.scale), static_cast<int>(r.x), static_cast<int>(r.y));
    const at::Tensor values = map[c].detach().to(at::kCPU, at::kDouble).contiguous();
    const auto [lo, hi] = detail::finite_range(values.data_ptr<double>(), values.numel());
    const double middle = static_cast<double>(r.x) + static_cast<double>(r.width) / 2;
    canvas.text("channel " + std::to_string(c), middle, static_cast<double>(r.y + r.height + 4),
                caption);
    canvas.text(detail::number_text(lo) + " .. " + detail::number_text(hi), middle,
                static_cast<double>(r.y + r.height + 22), range);
  }
  return canvas.png();
}

PreparedImage prepare_image(const transforms::Image& image, const models::InputSpec& input) {
  if (image.empty()) {
    throw InvalidArgument("feature map: expected an image, got an empty one (" +
                          std::to_string(image.height) + "x" + std::to_string(image.width) + ")");
  }
  transforms::EvalParams params;
  params.size = input.size;
  params.resize = input.resize;
  params.mean = input.mean;
  params.std = input.std;
  params.interpolation = input.interpolation;
  const auto transform = transforms::Transform::eval(params);
  PreparedImage prepared;
  prepared.display = transforms::to_rgb(transform.augment(image, 0));
  prepared.tensor = transform(image, 0);
  return prepared;
}

std::map<std::string, at::Tensor> layer_outputs(models::ClassifierImpl& model,
                                                const at::Tensor& tensor,
                                                const std::vector<std::string>& layers) {
  if (!tensor.defined() || tensor.dim() != 3 || tensor.size(0) != 3) {
    throw InvalidArgument("feature map: expected an image tensor [3, H, W], got " +
                          (tensor.defined() ? shape_text(tensor.sizes())
                                            : std::string("an undefined tensor")));
  }
  c10::Device device(c10::kCPU);
  const auto parameters = model.parameters();
  if (!parameters.empty()) device = parameters.front().device();
  std::map<std::string, at::Tensor> raw;
  {
    EvalModeScope eval(model);
    torch::NoGradGuard no_grad;
    raw = model.forward_with(tensor.unsqueeze(0).to(device, at::kFloat), layers).second;
  }
  std::map<std::string, at::Tensor> outputs;
  for (const auto& [layer, output] : raw) {
    const at::Tensor out = output.detach().to(at::kCPU, at::kFloat);
    if (out.dim() == 4 && out.size(0) == 1) {
      outputs[layer] = out[0];
    } else if (out.dim() == 2 && out.size(0) == 1) {
      outputs[layer] = out[0].reshape({out.size(1), 1, 1});
    } else {
      throw InvalidArgument("layer '" + layer +
                            "': expected an output [1, C, H, W] or [1, K], got " +
                            shape_text(out.sizes()));
    }
  }
  return outputs;
}

std::vector<std::string> feature_map_layers(const models::ClassifierImpl& model) {
  std::vector<std::vector<std::string>> convs;  // each a path split at its dots
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    if (!runs_in_eval(item.key())) continue;
    if (dynamic_cast<const torch::nn::Conv2dImpl*>(item.value().get()) == nullptr) continue;
    std::vector<std::string> parts;
    std::string part;
    for (const char c : item.key()) {
      if (c == '.') {
        parts.push_back(part);
        part.clear();
      } else {
        part += c;
      }
    }
    parts.push_back(part);
    convs.push_back(parts);
  }
  if (convs.empty()) return {};
  auto join = [](const std::vector<std::string>& parts) {
    std::string path;
    for (const auto& p : parts) path += (path.empty() ? "" : ".") + p;
    return path;
  };
  // Descend through the child holding every convolution, then take the first child holding more
  // than one: the first block.
  size_t depth = 0;
  std::vector<size_t> under(convs.size());
  std::iota(under.begin(), under.end(), 0);
  std::string first = join(convs[0]);
  while (true) {
    // Children at `depth` in order of first appearance, with the convolutions under each.
    std::vector<std::pair<std::string, std::vector<size_t>>> children;
    for (const size_t i : under) {
      if (convs[i].size() <= depth) continue;
      const auto& name = convs[i][depth];
      if (children.empty() || children.back().first != name) children.push_back({name, {}});
      children.back().second.push_back(i);
    }
    if (children.size() == 1 && convs[children[0].second[0]].size() > depth + 1) {
      under = children[0].second;
      ++depth;
      continue;
    }
    for (const auto& child : children) {
      if (child.second.size() > 1) {
        first = join(convs[child.second[0]]);
        break;
      }
    }
    break;
  }
  const std::string last = join(convs.back());
  if (first == last) return {first};
  return {first, last};
}

std::vector<std::filesystem::path> write_feature_maps(models::ClassifierImpl& model,
                                                      const models::InputSpec& input,
                                                      const transforms::Image& image,
                                                      const std::vector<std::string>& layers,
                                                      const std::filesystem::path& out_dir,
                                                      const FeatureMapOptions& options) {
  if (layers.empty()) throw InvalidArgument("feature maps: expected at least one layer, got none");
  std::set<std::string> seen;
  for (const auto& layer : layers) {
    if (!seen.insert(layer).second) {
      throw InvalidArgument("feature maps: layer '" + layer + "' is given twice");
    }
  }
  check_options(options);
  const auto prepared = prepare_image(image, input);
  const auto outputs = layer_outputs(model, prepared.tensor, layers);
  std::vector<std::string> pictures;
  for (const auto& layer : layers) {
    pictures.push_back(draw_feature_map(prepared.display, outputs.at(layer), layer, options));
  }
  std::error_code error;
  std::filesystem::create_directories(out_dir, error);
  if (error) {
    throw IoError("cannot create the directory '" + out_dir.string() + "': " + error.message());
  }
  std::vector<std::filesystem::path> files;
  for (size_t i = 0; i < layers.size(); ++i) {
    files.push_back(out_dir / (layers[i] + ".png"));
    write_file_atomically(files.back(), pictures[i]);
  }
  return files;
}

}  // namespace xfer::viz
