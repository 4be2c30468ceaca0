#include "entries.h"

#include "xfer/core/error.h"
#include "xfer/data/cifar.h"
#include "xfer/data/idx.h"
#include "xfer/pretrained/tflite.h"
#include "xfer/pretrained/tflite_import.h"
#include "xfer/transforms/image.h"
#include "xfer/weights/pth.h"
#include "xfer/weights/safetensors.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <stdexcept>
#include <string_view>

namespace xfer::fuzz {
namespace {

// Tensors up to this many elements are copied whole after a read. A stride-0 view may describe
// far more elements than the file holds (as in Python), so larger ones are only bounds-checked by
// the parser.
constexpr int64_t kTouchLimit = int64_t{1} << 22;

// fuzz_image's size limit. At xfer's own, PIL's 178,956,970 pixels, a JPEG of 300 bytes whose
// scans end early (libjpeg and PIL fill the rest with zeros) decodes for seconds into 1 GB, as in
// PIL: the cost of a valid image of that size, not a bug, but a timeout or an RSS limit to the
// fuzzer. libjpeg-turbo's own fuzz targets skip images above 2^20 pixels for the same reason.
constexpr int64_t kImagePixelLimit = int64_t{1} << 22;

[[noreturn]] void broken(const std::string& what) { throw std::logic_error("fuzz: " + what); }

// A FormatError must name the input it is about.
void check_named(const FormatError& error, const std::string& origin) {
  if (std::string_view(error.what()).substr(0, origin.size()) != origin) {
    broken("FormatError that does not start with the input's name '" + origin +
           "': " + error.what());
  }
}

// Runs `parse`: true when it returns, false when it throws a FormatError naming `origin`;
// anything else it throws escapes.
template <typename F>
bool accepted(const std::string& origin, F&& parse) {
  try {
    parse();
    return true;
  } catch (const FormatError& error) {
    check_named(error, origin);
    return false;
  }
}

std::string text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

void touch(const weights::Checkpoint& checkpoint) {
  auto touch_one = [](const std::string& key, const torch::Tensor& tensor) {
    if (!tensor.defined()) broken("undefined tensor '" + key + "'");
    // clone() reads every element: AddressSanitizer catches a view outside its storage.
    if (tensor.numel() <= kTouchLimit) (void)tensor.clone();
  };
  for (const auto& item : checkpoint.all_tensors) touch_one(item.key(), item.value());
  for (const auto& item : checkpoint.tensors) {
    if (!checkpoint.all_tensors.contains(checkpoint.weights_prefix + item.key())) {
      // Every model weight is one of all_tensors, under the prefix that was removed.
      broken("model weight '" + item.key() + "' is not in all_tensors under '" +
             checkpoint.weights_prefix + "'");
    }
  }
  for (const auto& [key, q] : checkpoint.quantized) {
    if (!checkpoint.all_tensors.contains(key)) broken("quantization of unknown '" + key + "'");
    if (q.scheme != "per_tensor_affine") {
      touch_one(key + " scales", q.scales);
      touch_one(key + " zero points", q.zero_points);
    }
  }
}

void check_graph(const pretrained::TfliteGraph& graph) {
  const auto count = static_cast<int32_t>(graph.tensors.size());
  auto in_range = [count](const std::vector<int32_t>& indices, bool optional) {
    for (const int32_t i : indices) {
      if (!((i >= 0 && i < count) || (optional && i == -1))) {
        broken("tensor index " + std::to_string(i) + " outside [0, " + std::to_string(count) +
               ") accepted");
      }
    }
  };
  in_range(graph.inputs, false);
  in_range(graph.outputs, false);
  for (const auto& op : graph.operators) {
    in_range(op.inputs, true);
    in_range(op.outputs, false);
  }
}

}  // namespace

bool fuzz_pth(const uint8_t* data, size_t size) {
  const std::string origin = "fuzz.pth";
  return accepted(origin, [&] { touch(weights::read_pth_bytes(text(data, size), origin)); });
}

bool fuzz_safetensors(const uint8_t* data, size_t size) {
  const std::string origin = "fuzz.safetensors";
  return accepted(origin,
                  [&] { touch(weights::read_safetensors_bytes(text(data, size), origin)); });
}

bool fuzz_tflite(const uint8_t* data, size_t size) {
  const std::string origin = "fuzz.tflite";
  pretrained::TfliteGraph graph;
  if (!accepted(origin, [&] { graph = pretrained::read_tflite_bytes(text(data, size), origin); })) {
    return false;
  }
  check_graph(graph);
  for (const auto& tensor : graph.tensors) {
    if (tensor.data.empty()) continue;
    // dequantize names the tensor, not the file (a TfliteTensor does not know its file).
    try {
      (void)pretrained::dequantize(tensor);
    } catch (const FormatError&) {
    }
  }
  return accepted(origin, [&] {
    try {
      (void)pretrained::tflite_model_shape({graph});
      (void)pretrained::tflite_state_dict(tflite_import_module(), {graph});
    } catch (const WeightMismatch&) {
    }
  });
}

bool fuzz_cifar(const uint8_t* data, size_t size) {
  if (size == 0) return false;
  const bool cifar100 = (data[0] & 1) != 0;
  const std::string origin = cifar100 ? "cifar100: fuzz.bin" : "cifar10: fuzz.bin";
  return accepted(origin, [&] {
    const std::vector<uint8_t> bytes(data + 1, data + size);
    const data::CifarBatch batch = data::parse_cifar_batch(bytes, origin, cifar100);
    const size_t records = batch.labels.size();
    if (batch.pixels.size() != records * 32 * 32 * 3 ||
        batch.coarse_labels.size() != (cifar100 ? records : 0) ||
        bytes.size() != records * (cifar100 ? 3074 : 3073)) {
      broken("CIFAR batch sizes disagree");
    }
    for (size_t r = 0; r < records; ++r) {
      if (batch.labels[r] < 0 || batch.labels[r] >= (cifar100 ? 100 : 10) ||
          (cifar100 && (batch.coarse_labels[r] < 0 || batch.coarse_labels[r] >= 20))) {
        broken("CIFAR label out of range accepted");
      }
    }
  });
}

bool fuzz_idx(const uint8_t* data, size_t size) {
  if (size == 0) return false;
  const bool labels = (data[0] & 1) != 0;
  const std::string origin = "fuzz-idx-ubyte";
  return accepted(origin, [&] {
    std::vector<uint8_t> bytes =
        data::gunzip_if_gzip(std::vector<uint8_t>(data + 1, data + size), origin);
    const data::IdxArray array =
        data::parse_idx(bytes, labels ? data::kIdxLabelsMagic : data::kIdxImagesMagic, origin,
                        labels ? "label" : "image");
    uint64_t elements = 1;
    for (const int64_t dim : array.dims) elements *= static_cast<uint64_t>(dim);
    if (array.dims.size() != (labels ? 1u : 3u) || array.data.size() != elements) {
      broken("IDX dimensions disagree with the data");
    }
  });
}

bool fuzz_image(const uint8_t* data, size_t size) {
  const std::string origin = "fuzz.img";
  const std::vector<uint8_t> bytes(data, data + size);
  transforms::Image image;
  if (!accepted(origin,
                [&] { image = transforms::decode_image(bytes, origin, kImagePixelLimit); })) {
    return false;
  }
  const std::string format = transforms::sniff_image_format(bytes);
  if (format != "JPEG" && format != "PNG" && format != "BMP" && format != "WebP" &&
      format != "TIFF") {
    broken("decoded an input that is not JPEG, PNG, BMP, WebP or TIFF: " + format);
  }
  if (image.channels != 3 || image.height <= 0 || image.width <= 0 ||
      image.height > transforms::kMaxImageSide || image.width > transforms::kMaxImageSide ||
      image.height * image.width > kImagePixelLimit ||
      image.pixels.size() != static_cast<size_t>(image.height * image.width * 3)) {
    broken(format + " image of " + std::to_string(image.height) + "x" +
           std::to_string(image.width) + "x" + std::to_string(image.channels) + " with " +
           std::to_string(image.pixels.size()) + " pixel bytes accepted");
  }
  return true;
}

bool fuzz_cifar_names(const uint8_t* data, size_t size) {
  if (size == 0) return false;
  struct File {
    const char* origin;
    int64_t names;
  };
  static const File files[] = {{"cifar10: batches.meta.txt", 10},
                               {"cifar100: fine_label_names.txt", 100},
                               {"cifar100: coarse_label_names.txt", 20}};
  const File& file = files[data[0] % 3];
  const std::string content = text(data + 1, size - 1);
  std::vector<std::string> names;
  if (!accepted(file.origin,
                [&] { names = data::parse_cifar_class_names(content, file.origin, file.names); })) {
    return false;
  }
  if (static_cast<int64_t>(names.size()) != file.names) {
    broken(std::to_string(names.size()) + " class names accepted, expected " +
           std::to_string(file.names));
  }
  size_t at = 0;
  for (const auto& name : names) {
    const std::string_view blank = " \t\r";
    if (name.empty() || name.find('\n') != std::string::npos ||
        blank.find(name.front()) != std::string_view::npos ||
        blank.find(name.back()) != std::string_view::npos) {
      broken("class name '" + name + "' empty, with a line break or untrimmed");
    }
    at = content.find(name, at);
    if (at == std::string::npos) broken("class name '" + name + "' not in the file, in order");
    at += name.size();
  }
  return true;
}

const torch::nn::Module& tflite_import_module() {
  // What tflite_state_dict needs of a MobileNet, at a size the fuzzer can afford per input.
  static const torch::nn::Sequential net = [] {
    namespace nn = torch::nn;
    return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 8, 3).stride(2).bias(false)),
                          nn::BatchNorm2d(8),
                          nn::Conv2d(nn::Conv2dOptions(8, 8, 3).groups(8).bias(false)),
                          nn::BatchNorm2d(8), nn::Conv2d(nn::Conv2dOptions(8, 16, 1).bias(false)),
                          nn::BatchNorm2d(16), nn::Linear(16, 5));
  }();
  return *net;
}

const std::vector<FuzzTarget>& fuzz_targets() {
  static const std::vector<FuzzTarget> targets{{"pth", fuzz_pth},
                                               {"safetensors", fuzz_safetensors},
                                               {"tflite", fuzz_tflite},
                                               {"cifar", fuzz_cifar},
                                               {"idx", fuzz_idx},
                                               {"image", fuzz_image},
                                               {"cifar_names", fuzz_cifar_names}};
  return targets;
}

}  // namespace xfer::fuzz
