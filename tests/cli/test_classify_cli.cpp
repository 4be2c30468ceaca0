// `xfer classify` as a user meets it: the Coral MobileNets on Coral's pictures, a resnet18 saved by
// Python against Python's own prediction, and the errors a user can cause.

#include "support/paths.h"
#include "support/process.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <fstream>
#include <set>
#include <sstream>

namespace xfer::testing {
namespace {

const char* const kPython = "/usr/bin/python3";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::filesystem::path coral_dir() { return shared_dir() / "weights" / "coral-mobilenet"; }

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Coral's examples show the model the whole picture; with the centre crop, the portrait of Grace
// Hopper loses her uniform and the top class becomes "mortarboard" (0.36 against 0.28).
TEST(ClassifyCli, NamesCoralsPicturesWithMobilenetV2) {
  const auto weights = coral_dir() / "mobilenet_v2_1.0_224_quant.tflite";
  XFER_REQUIRE_SHARED(weights);
  const auto images = coral_dir() / "images";
  const auto result = run_xfer({"classify", "--model", "mobilenet_v2", "--weights",
                                weights.string(), "--topk", "3", "--json", "--view", "whole",
                                (images / "grace_hopper.bmp").string(),
                                (images / "parrot.jpg").string(), (images / "hot_dog.jpg").string(),
                                (images / "bird.bmp").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto objects = json_lines(result.out);
  ASSERT_EQ(objects.size(), 4u) << result.out;
  const std::vector<std::string> expected = {"military uniform", "macaw", "hotdog", "chickadee"};
  for (size_t i = 0; i < objects.size(); ++i) {
    const auto& object = objects[i];
    ASSERT_EQ(object["labels"].size(), 3u);
    EXPECT_EQ(object["labels"][0], expected[i]) << object.dump();
    EXPECT_EQ(object["indices"].size(), 3u);
    const double p0 = object["probabilities"][0];
    const double p1 = object["probabilities"][1];
    EXPECT_GE(p0, p1);
    EXPECT_GT(p0, 0.2);
    EXPECT_LE(p0, 1.0);
  }
  EXPECT_EQ(objects[0]["indices"][0], 653);  // 1 + ImageNet's 652
}

TEST(ClassifyCli, PrintsTopKAsTextForTheV1Pair) {
  const auto weights = coral_dir() / "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite";
  XFER_REQUIRE_SHARED(weights);
  const auto result = run_xfer({"classify", "--model", "mobilenet_v1", "--weights",
                                weights.string(), "--topk", "2",
                                (coral_dir() / "images" / "parrot.jpg").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "note: joined the backbone with its head")) << result.out;
  EXPECT_TRUE(contains(result.out, "parrot.jpg\n")) << result.out;
  EXPECT_TRUE(contains(result.out, "  macaw (89)")) << result.out;
}

TEST(ClassifyCli, MatchesPythonOnAPhotoThroughEachSidesOwnTransform) {
  const auto photo = coral_dir() / "images" / "owl.jpg";
  XFER_REQUIRE_SHARED(photo);
  if (run_process(kPython, {"-c", "import torch, torchvision, PIL"}).exit_code != 0) {
    GTEST_SKIP() << kPython << " with torch, torchvision and PIL is absent";
  }
  const auto dir = temp_dir("classify");
  std::ofstream(dir / "predict.py") << R"(
import json, sys, torch, torchvision
from PIL import Image
from torchvision import transforms as T
out, photo = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = torchvision.models.resnet18()
model.eval()
torch.save(model.state_dict(), out + "/resnet18.pth")
transform = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                       T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
normalize = T.Compose([T.ToTensor(),
                       T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
ten_crop = T.Compose([T.Resize(256), T.TenCrop(224)])
with torch.no_grad():
    p = torch.softmax(model(transform(Image.open(photo).convert("RGB")).unsqueeze(0)), 1)[0]
    crops = torch.stack([normalize(c) for c in ten_crop(Image.open(photo).convert("RGB"))])
    ten = torch.softmax(model(crops), 1).mean(0)
values, indices = p.topk(5)
ten_values, ten_indices = ten.topk(5)
print(json.dumps({"indices": indices.tolist(), "probabilities": values.tolist(),
                  "ten_indices": ten_indices.tolist(), "ten_probabilities": ten_values.tolist()}))
)";
  const auto python =
      run_process(kPython, {(dir / "predict.py").string(), dir.string(), photo.string()});
  ASSERT_EQ(python.exit_code, 0) << python.err;
  const auto expected = nlohmann::json::parse(python.out);

  const auto result = run_xfer({"classify", "--model", "resnet18", "--weights",
                                (dir / "resnet18.pth").string(), "--json", photo.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto objects = json_lines(result.out);
  ASSERT_EQ(objects.size(), 1u) << result.out;
  const auto& got = objects[0];
  EXPECT_EQ(got["indices"][0], expected["indices"][0]) << got.dump() << " vs " << expected.dump();
  std::set<int64_t> ours;
  std::set<int64_t> theirs;
  for (int i = 0; i < 5; ++i) {
    ours.insert(got["indices"][i].get<int64_t>());
    theirs.insert(expected["indices"][i].get<int64_t>());
  }
  int common = 0;
  for (const auto index : ours) common += static_cast<int>(theirs.count(index));
  EXPECT_GE(common, 4) << got.dump() << " vs " << expected.dump();
  // Python's kernels against ours through resnet18: logits ~1e-5 of their scale (~20) apart, and
  // a softmax turns an absolute logit difference into that fraction of the probability: 1e-3 of it.
  const double top = expected["probabilities"][0].get<double>();
  EXPECT_NEAR(got["probabilities"][0].get<double>(), top, 1e-3 * top);

  // --tta ten-crop is torchvision's TenCrop of the resized photo, probabilities averaged.
  const auto ten = run_xfer({"classify", "--model", "resnet18", "--weights",
                             (dir / "resnet18.pth").string(), "--json", "--precision", "fp32",
                             "--tta", "ten-crop", photo.string()});
  ASSERT_EQ(ten.exit_code, 0) << ten.err;
  const auto ten_got = json_lines(ten.out).at(0);
  EXPECT_EQ(ten_got["indices"][0], expected["ten_indices"][0]) << ten_got.dump();
  const double ten_top = expected["ten_probabilities"][0].get<double>();
  EXPECT_NEAR(ten_got["probabilities"][0].get<double>(), ten_top, 1e-3 * ten_top);
  EXPECT_NE(ten_got["probabilities"][0].get<double>(), got["probabilities"][0].get<double>());
}

TEST(ClassifyCli, NamesAnImageThatDoesNotDecode) {
  const auto dir = temp_dir("classify_bad");
  const auto bad = dir / "notes.jpg";
  std::ofstream(bad) << "<html>not a picture</html>";
  const auto result =
      run_xfer({"classify", "--model", "resnet18", "--weights", "imagenet", bad.string()});
  EXPECT_EQ(result.exit_code, 5) << result.err;
  EXPECT_TRUE(contains(result.err, "notes.jpg")) << result.err;
}

TEST(ClassifyCli, NamesAMissingImage) {
  const auto missing = temp_dir("classify_missing") / "absent.png";
  const auto result =
      run_xfer({"classify", "--model", "resnet18", "--weights", "imagenet", missing.string()});
  EXPECT_EQ(result.exit_code, 4) << result.err;
  EXPECT_TRUE(contains(result.err, "absent.png")) << result.err;
}

TEST(ClassifyCli, RefusesAnUnknownWeightsName) {
  const auto photo = temp_dir("classify_name") / "grey.png";
  // A valid picture, so that the weights name is what fails.
  ASSERT_TRUE(cv::imwrite(photo.string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(40, 80, 120))));
  const auto result =
      run_xfer({"classify", "--model", "resnet18", "--weights", "IMAGENET7K", photo.string()});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_TRUE(contains(result.err, "IMAGENET7K: neither a file nor a weights name of resnet18"))
      << result.err;
}

// Checked before any file is read: the crops are cut from the resized image, which --view whole
// does not make.
TEST(ClassifyCli, RefusesCropTtaOfTheWholePicture) {
  const auto result = run_xfer({"classify", "--model", "resnet18", "--weights", "imagenet",
                                "--view", "whole", "--tta", "ten-crop", "absent.jpg"});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_TRUE(contains(result.err, "--tta ten-crop: expected --view crop (the crops are cut from "
                                   "the resized image), got --view whole"))
      << result.err;
}

TEST(ClassifyCli, RequiresImagesAndAPositiveTopK) {
  auto result = run_xfer({"classify", "--model", "resnet18", "--weights", "imagenet"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "images")) << result.err;
  result = run_xfer({"classify", "--model", "resnet18", "--weights", "imagenet", "--topk", "0",
                     "x.jpg"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "--topk")) << result.err;
}

}  // namespace
}  // namespace xfer::testing
