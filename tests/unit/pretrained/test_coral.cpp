// The real Coral TFLite MobileNets of ../shared, imported and run: ImageNet accuracy on the
// 200-image sample and the pictures Coral's own examples classify.

#include "support/paths.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/transforms/image.h"
#include "xfer/transforms/transform.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>

namespace xfer::testing {
namespace {

std::filesystem::path coral_dir() { return shared_dir() / "weights" / "coral-mobilenet"; }

transforms::Transform eval_transform(const models::InputSpec& input) {
  transforms::EvalParams params;
  params.size = input.size;
  params.resize = input.resize;
  params.mean = input.mean;
  params.std = input.std;
  return transforms::Transform::eval(params);
}

struct Accuracy {
  double top1 = 0;
  double top5 = 0;
};

// Top-1 / top-5 in percent on imagenet-sample; TFLite output k + 1 is ImageNet class k.
Accuracy imagenet_accuracy(const std::string& model_name, const std::filesystem::path& weights) {
  const auto sample = shared_dir() / "data" / "imagenet-sample";
  auto loaded = pretrained::load_pretrained(model_name, weights.string());
  const auto transform = eval_transform(loaded.weights.input);
  std::ifstream tsv(sample / "LABELS.tsv");
  std::string file;
  int64_t label = 0;
  std::getline(tsv, file);  // header
  int64_t count = 0;
  int64_t top1 = 0;
  int64_t top5 = 0;
  torch::NoGradGuard no_grad;
  while (tsv >> file >> label) {
    const auto image = transform(transforms::decode_image(sample / file), 0).unsqueeze(0);
    const auto logits = loaded.model->forward(image)[0];
    const auto best = std::get<1>(logits.topk(5));
    top1 += best[0].item<int64_t>() == label + 1;
    for (int64_t j = 0; j < 5; ++j) top5 += best[j].item<int64_t>() == label + 1;
    ++count;
  }
  EXPECT_EQ(count, 200);
  const Accuracy accuracy{100.0 * top1 / count, 100.0 * top5 / count};
  std::cout << model_name << " " << weights.filename().string() << ": top-1 " << accuracy.top1
            << " %, top-5 " << accuracy.top5 << " % on " << count << " images\n";
  return accuracy;
}

TEST(CoralMobilenet, V2ReachesItsImagenetAccuracy) {
  const auto file = coral_dir() / "mobilenet_v2_1.0_224_quant.tflite";
  XFER_REQUIRE_SHARED(file);
  const Accuracy accuracy = imagenet_accuracy("mobilenet_v2", file);
  EXPECT_GE(accuracy.top1, 80.0);
  EXPECT_GE(accuracy.top5, 94.0);
}

TEST(CoralMobilenet, V1PairReachesItsImagenetAccuracy) {
  const auto file = coral_dir() / "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite";
  XFER_REQUIRE_SHARED(file);
  const Accuracy accuracy = imagenet_accuracy("mobilenet_v1", file);
  EXPECT_GE(accuracy.top1, 82.0);
}

TEST(CoralMobilenet, V1QuarterWidthReachesItsImagenetAccuracy) {
  const auto file = coral_dir() / "mobilenet_v1_0.25_128_quant.tflite";
  XFER_REQUIRE_SHARED(file);
  const Accuracy accuracy = imagenet_accuracy("mobilenet_v1", file);
  EXPECT_GE(accuracy.top1, 40.0);
}

TEST(CoralMobilenet, V2NamesCoralsPictures) {
  const auto file = coral_dir() / "mobilenet_v2_1.0_224_quant.tflite";
  XFER_REQUIRE_SHARED(file);
  auto loaded = pretrained::load_pretrained("mobilenet_v2", file.string());
  EXPECT_EQ(loaded.weights.format, "tflite");
  ASSERT_EQ(loaded.weights.labels.size(), 1001u);
  EXPECT_EQ(loaded.weights.labels[0], "background");
  // The whole picture squeezed into the input square, as Coral's examples show it (the centre crop
  // of the portrait grace_hopper.bmp cuts off the uniform: `xfer classify --view crop`).
  const auto& input = loaded.weights.input;
  const auto transform = transforms::Transform()
                             .resize(transforms::Size{input.size, input.size})
                             .normalize(input.mean, input.std);
  torch::NoGradGuard no_grad;
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"grace_hopper.bmp", "military uniform"},
      {"parrot.jpg", "macaw"},
      {"hot_dog.jpg", "hotdog"},
      {"bird.bmp", "chickadee"}};
  for (const auto& [picture, label] : expected) {
    const auto image =
        transform(transforms::decode_image(coral_dir() / "images" / picture), 0).unsqueeze(0);
    const int64_t best = loaded.model->forward(image).argmax(1).item<int64_t>();
    EXPECT_EQ(loaded.weights.labels[static_cast<size_t>(best)], label) << picture;
  }
}

TEST(CoralMobilenet, V1BackboneAloneLoadsWithoutAHead) {
  const auto file = coral_dir() / "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite";
  XFER_REQUIRE_SHARED(file);
  // Alone in a folder, the backbone has no head beside it.
  const auto lonely = temp_dir("coral") / file.filename();
  std::filesystem::create_symlink(file, lonely);
  auto loaded = pretrained::load_pretrained("mobilenet_v1", lonely.string(),
                                            pretrained::PretrainedOptions().num_classes(5));
  EXPECT_TRUE(loaded.weights.labels.empty());
  ASSERT_FALSE(loaded.weights.notes.empty());
  EXPECT_NE(loaded.weights.notes.front().find("no head file"), std::string::npos);
  EXPECT_EQ(loaded.model->forward(torch::zeros({1, 3, 224, 224})).size(1), 5);
}

TEST(CoralMobilenet, SkipsTheHeadForAnotherClassCount) {
  const auto file = coral_dir() / "mobilenet_v1_0.25_128_quant.tflite";
  XFER_REQUIRE_SHARED(file);
  auto loaded = pretrained::load_pretrained("mobilenet_v1", file.string(),
                                            pretrained::PretrainedOptions().num_classes(10));
  EXPECT_EQ(loaded.weights.report.skipped,
            (std::vector<std::string>{"classifier.1.weight", "classifier.1.bias"}));
  ASSERT_FALSE(loaded.weights.notes.empty());
  EXPECT_NE(loaded.weights.notes.back().find("the weights have 1001 classes, the model 10"),
            std::string::npos);
  EXPECT_TRUE(loaded.weights.labels.empty());
}

}  // namespace
}  // namespace xfer::testing
