// The real weights of ../shared exported to ONNX and run by ONNX Runtime on real photographs:
// Coral's MobileNets (TFLite, TF's SAME padding; V1 1.0 joined with its head file) and the CIFAR-10
// ResNets (torch.save, 2018), each on Coral's seven test pictures prepared as its weights expect.
// Logits within 1e-4 of the largest magnitude of xfer's own, the same top class for every picture
// (OpenCV DNN too for the ResNets: it does not read the MobileNets, docs/export.md), and the parrot
// a macaw. The worst difference is printed per model (docs/export.md records them).

#include "check.h"
#include "support/paths.h"
#include "xfer/deploy/onnx.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/transforms/image.h"
#include "xfer/transforms/transform.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <opencv2/dnn.hpp>
#include <torch/utils.h>

#include <iostream>
#include <sstream>

namespace xfer::testing {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string name;  // the test's name
  std::string model;
  fs::path weights;  // under ../shared/weights
  bool opencv;       // OpenCV 4.6 reads the graph
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

const std::vector<std::string> kPictures = {"bird.bmp",    "cat.bmp",  "dragonfly.bmp",
                                            "grace_hopper.bmp", "hot_dog.jpg", "owl.jpg",
                                            "parrot.jpg"};

fs::path coral() { return shared_dir() / "weights" / "coral-mobilenet"; }

class ExportRealWeights : public ::testing::TestWithParam<Case> {};

TEST_P(ExportRealWeights, RunInOnnxRuntimeAsInXferOnPhotographs) {
  const Case& c = GetParam();
  const fs::path weights = shared_dir() / "weights" / c.weights;
  XFER_REQUIRE_SHARED(weights);
  const auto loaded = pretrained::load_pretrained(c.model, weights.string());
  const auto& input = loaded.weights.input;
  transforms::EvalParams params;
  params.size = input.size;
  params.resize = input.resize;
  params.mean = input.mean;
  params.std = input.std;
  const auto transform = transforms::Transform::eval(params);
  std::vector<at::Tensor> prepared;
  for (const auto& name : kPictures) {
    prepared.push_back(transform(transforms::decode_image(coral() / "images" / name), 0));
  }
  const at::Tensor images = at::stack(prepared);
  at::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = loaded.model->forward(images);
  }

  const fs::path dir = temp_dir("export-real-" + c.name);
  const fs::path file = dir / "model.onnx";
  deploy::OnnxOptions options;
  options.input_size = input.size;
  deploy::write_onnx(*loaded.model, options, file);
  const auto ort = run_onnxruntime(file, images, dir);
  ASSERT_EQ(ort.exit_code, 0) << ort.err;
  const at::Tensor ort_logits = read_raw(dir / "logits.bin", logits.sizes());
  const double difference = relative_difference(ort_logits, logits);
  EXPECT_LE(difference, 1e-4);
  EXPECT_TRUE(at::equal(ort_logits.argmax(1), logits.argmax(1)))
      << ort_logits.argmax(1) << " vs " << logits.argmax(1);
  if (c.model == "mobilenet_v2") {
    const auto parrot = ort_logits[6].argmax().item<int64_t>();
    EXPECT_EQ(loaded.weights.labels.at(static_cast<size_t>(parrot)), "macaw");
  }

  std::string opencv_result = "not read by OpenCV 4.6";
  if (c.opencv) {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(file.string());
    const at::Tensor blob_data = images.contiguous();
    const std::vector<int> dims(blob_data.sizes().begin(), blob_data.sizes().end());
    net.setInput(cv::Mat(4, dims.data(), CV_32F, blob_data.data_ptr()), "input");
    const cv::Mat out = net.forward("logits");
    const at::Tensor opencv_logits =
        at::from_blob(const_cast<float*>(out.ptr<float>()), logits.sizes(), at::kFloat).clone();
    const double opencv_difference = relative_difference(opencv_logits, logits);
    EXPECT_LE(opencv_difference, 1e-4);
    std::ostringstream text;
    text << opencv_difference;
    opencv_result = text.str();
  }
  std::cout << c.name << " (" << c.weights.string() << "): top classes";
  for (int64_t i = 0; i < logits.size(0); ++i) std::cout << " " << logits[i].argmax().item<int64_t>();
  std::cout << "; worst relative difference: onnxruntime " << difference << ", opencv "
            << opencv_result << "\n";
}

INSTANTIATE_TEST_SUITE_P(
    Shared, ExportRealWeights,
    ::testing::Values(
        Case{"coral_mobilenet_v2", "mobilenet_v2",
             "coral-mobilenet/mobilenet_v2_1.0_224_quant.tflite", false},
        Case{"coral_mobilenet_v1_1_0_with_head", "mobilenet_v1",
             "coral-mobilenet/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite", false},
        Case{"coral_mobilenet_v1_0_75", "mobilenet_v1",
             "coral-mobilenet/mobilenet_v1_0.75_192_quant.tflite", false},
        Case{"coral_mobilenet_v1_0_25", "mobilenet_v1",
             "coral-mobilenet/mobilenet_v1_0.25_128_quant.tflite", false},
        Case{"cifar_resnet20", "resnet20", "cifar-resnet/resnet20-12fca82f.th", true},
        Case{"cifar_resnet56", "resnet56", "cifar-resnet/resnet56-4bfd9763.th", true}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace xfer::testing
