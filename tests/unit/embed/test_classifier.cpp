// xfer::Classifier, the embedding API: a small run and a weights file opened through it give the
// probabilities of the model they hold under its own eval transform, in batches or one by one,
// from images, files or tensors; and every option a caller can get wrong is refused by name.

#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/embed/classifier.h"
#include "xfer/models/registry.h"
#include "xfer/train/evaluate.h"
#include "xfer/train/trainer.h"
#include "xfer/transforms/functional.h"
#include "xfer/weights/load.h"
#include "xfer/weights/safetensors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <thread>

namespace xfer {
namespace {

namespace fs = std::filesystem;

class ClassifierTest : public ::testing::Test {
 protected:
  // ResNet-20 from scratch on Trouser and Bag, 20 images a class at 32 px, one epoch.
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::temp_dir("classifier"));
    setenv("XFER_HOME", (*dir_ / "home").c_str(), 1);
    train::TrainConfig config;
    config.model = "resnet20";
    config.weights = "none";
    config.data = "fashion-mnist";
    config.classes = {"Trouser", "Bag"};
    config.per_class = 20;
    config.image_size = 32;
    config.batch_size = 8;
    config.epochs = 1;
    config.threads = 1;
    config.workers = 1;
    config.out = run().string();
    test_ = new data::Dataset(train::train(config).splits.test);
  }
  static void TearDownTestSuite() {
    delete test_;
    delete dir_;
  }
  static fs::path run() { return *dir_ / "run"; }

  // The first `count` test images of the run.
  static std::vector<transforms::Image> images(int64_t count) {
    std::vector<transforms::Image> out;
    for (int64_t i = 0; i < count; ++i) out.push_back(test_->image(i));
    return out;
  }

  static fs::path* dir_;
  static data::Dataset* test_;
};

fs::path* ClassifierTest::dir_ = nullptr;
data::Dataset* ClassifierTest::test_ = nullptr;

// Options that pin fp32, for tests that compare with the model's own fp32 pass: the default is
// the CPU's choice (bf16 where native).
ClassifierOptions fp32() { return ClassifierOptions().precision(Precision::kFloat32); }

// torchvision's FiveCrop of `picture` resized (shorter side) to input.resize, cut here one crop at
// a time and normalised: [5, 3, S, S], S = input.size (top left, top right, bottom left, bottom
// right, centre).
at::Tensor five_crops(const transforms::Image& picture, const models::InputSpec& input) {
  const auto resized = transforms::resize(picture, input.resize);
  const transforms::Size size{resized.height, resized.width};
  const int64_t side = input.size;
  const auto normalize = transforms::Transform().normalize(input.mean, input.std);
  std::vector<at::Tensor> crops;
  for (const transforms::Box box :
       {transforms::Box{0, 0, side, side}, transforms::Box{0, size.width - side, side, side},
        transforms::Box{size.height - side, 0, side, side},
        transforms::Box{size.height - side, size.width - side, side, side},
        transforms::centered_box(size, {side, side})}) {
    crops.push_back(normalize(transforms::crop(resized, box), 0));
  }
  return torch::stack(crops);
}

// The Classifier's probabilities are the run's model under the run's eval transform.
TEST_F(ClassifierTest, ClassifiesAsTheRunsModelDoes) {
  const auto classifier = Classifier::open_run(run(), fp32());
  EXPECT_EQ(classifier.classes(), (std::vector<std::string>{"Trouser", "Bag"}));
  EXPECT_EQ(classifier.input().size, 32);
  EXPECT_NE(classifier.description().find("resnet20"), std::string::npos);

  const auto trained = train::load_run(run());
  const auto pictures = images(6);
  std::vector<at::Tensor> prepared;
  for (const auto& picture : pictures) prepared.push_back(trained.eval_transform(picture, 0));
  torch::NoGradGuard no_grad;
  const auto expected = torch::softmax(trained.model->forward(torch::stack(prepared)), 1);

  const auto predictions = classifier.classify(pictures, 2);
  ASSERT_EQ(predictions.size(), 6u);
  for (int64_t i = 0; i < 6; ++i) {
    const auto& p = predictions[static_cast<size_t>(i)];
    ASSERT_EQ(p.indices.size(), 2u);
    EXPECT_EQ(p.indices[0], expected[i].argmax().item<int64_t>());
    EXPECT_EQ(p.labels[0], classifier.classes()[static_cast<size_t>(p.indices[0])]);
    EXPECT_GE(p.probabilities[0], p.probabilities[1]);
    for (size_t j = 0; j < 2; ++j) {
      EXPECT_NEAR(p.probabilities[j], expected[i][p.indices[j]].item<double>(), 1e-6);
    }
  }
  EXPECT_TRUE(torch::allclose(classifier.probabilities(torch::stack(prepared)), expected, 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(classifier.prepare(pictures[0]), prepared[0]));
  EXPECT_EQ(classifier.features(torch::stack(prepared)).sizes(),
            (std::vector<int64_t>{6, trained.model->feature_dim()}));
}

// tta_flip: each image's probabilities averaged with its mirror's; a mirror-symmetric image's are
// its own. xfer eval's TTA (train::evaluate) gives the loss and accuracy of those probabilities.
TEST_F(ClassifierTest, FlipTtaAveragesEachImageWithItsMirror) {
  const auto plain = Classifier::open_run(run(), fp32());
  const auto tta = Classifier::open_run(run(), fp32().tta_flip(true));
  std::vector<at::Tensor> prepared;
  for (const auto& picture : images(6)) prepared.push_back(plain.prepare(picture));
  const auto x = torch::stack(prepared);
  const auto expected = (plain.probabilities(x) + plain.probabilities(x.flip({3}))) / 2;
  EXPECT_TRUE(torch::allclose(tta.probabilities(x), expected, 1e-5, 1e-6));
  EXPECT_GT((tta.probabilities(x) - plain.probabilities(x)).abs().max().item<double>(), 1e-4);
  const auto symmetric = (x + x.flip({3})) / 2;
  EXPECT_TRUE(torch::allclose(tta.probabilities(symmetric), plain.probabilities(symmetric), 1e-5,
                              1e-6));
  const auto predictions = tta.classify(images(6), 1);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(predictions[static_cast<size_t>(i)].probabilities[0],
                expected[i].max().item<double>(), 1e-6);
  }
  // softmax(tta_flip_logits(a, b)) is the mean of the softmaxes.
  const auto a = torch::randn({4, 3});
  const auto b = torch::randn({4, 3});
  EXPECT_TRUE(torch::allclose(torch::softmax(train::tta_flip_logits(a, b), 1),
                              (torch::softmax(a, 1) + torch::softmax(b, 1)) / 2, 1e-5, 1e-7));

  const auto trained = train::load_run(run());
  train::EvalOptions how;
  how.transform = trained.eval_transform;
  how.batch_size = 7;
  how.workers = 1;
  how.tta_flip = true;
  const auto evaluated = train::evaluate(*trained.model, *test_, how);
  std::vector<at::Tensor> all;
  for (int64_t i = 0; i < test_->size(); ++i) all.push_back(plain.prepare(test_->image(i)));
  const auto p = tta.probabilities(torch::stack(all));
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < test_->size(); ++i) labels.push_back(test_->label(i));
  const auto y = torch::tensor(labels);
  const double loss = -p.gather(1, y.unsqueeze(1)).log().mean().item<double>();
  const double top1 = p.argmax(1).eq(y).to(torch::kDouble).mean().item<double>();
  EXPECT_EQ(evaluated.count, test_->size());
  EXPECT_NEAR(evaluated.loss, loss, 1e-5 * loss);
  EXPECT_DOUBLE_EQ(evaluated.top1, top1);
  how.tta_flip = false;
  EXPECT_NE(train::evaluate(*trained.model, *test_, how).loss, evaluated.loss);
}

// --tta five-crop and ten-crop (xfer eval): each image's probabilities are the mean over
// torchvision's five crops of the resized image (and their mirrors), computed here crop by crop.
TEST_F(ClassifierTest, FiveCropTtaAveragesTorchvisionsFiveCrops) {
  const auto trained = train::load_run(run());
  const auto plain = Classifier::open_run(run(), fp32());
  models::InputSpec input = trained.input;
  input.resize = input.size + 6;
  for (const bool ten : {false, true}) {
    train::EvalOptions how;
    how.transform = train::five_crop_transform(input);
    how.batch_size = 5;
    how.workers = 1;
    how.tta_five_crop = true;
    how.tta_flip = ten;
    const auto evaluated = train::evaluate(*trained.model, *test_, how);
    std::vector<at::Tensor> mean_probabilities;
    for (int64_t i = 0; i < test_->size(); ++i) {
      at::Tensor x = five_crops(test_->image(i), input);
      if (ten) x = torch::cat({x, x.flip({3})});
      mean_probabilities.push_back(plain.probabilities(x).mean(0));
    }
    const auto p = torch::stack(mean_probabilities);
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < test_->size(); ++i) labels.push_back(test_->label(i));
    const auto y = torch::tensor(labels);
    const double loss = -p.gather(1, y.unsqueeze(1)).log().mean().item<double>();
    EXPECT_EQ(evaluated.count, test_->size());
    EXPECT_NEAR(evaluated.loss, loss, 1e-5 * loss) << (ten ? "ten-crop" : "five-crop");
    EXPECT_DOUBLE_EQ(evaluated.top1, p.argmax(1).eq(y).to(torch::kDouble).mean().item<double>());
  }
  // softmax(tta_mean_logits(x)) is the mean of the softmaxes over dimension 1.
  const auto x = torch::randn({4, 5, 3});
  EXPECT_TRUE(torch::allclose(torch::softmax(train::tta_mean_logits(x), 1),
                              torch::softmax(x, 2).mean(1), 1e-5, 1e-7));
  input.resize = input.size;
  try {
    train::five_crop_transform(input);
    ADD_FAILURE() << "a transform without a crop was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("expected an eval transform that resizes beyond its crop"),
              std::string::npos)
        << e.what();
  }
}

// Batches of 3, one at a time, and files on disk: the same predictions.
// Unset, the precision is the CPU's, as the xfer program's default; fuse(false) is the model's
// eager pass bit for bit.
TEST_F(ClassifierTest, ThePrecisionIsTheCpusUnlessSetAndNoFuseIsTheEagerPass) {
  const auto pictures = images(3);
  const auto chosen = Classifier::open_run(run());
  const bool native = has_native_bf16(c10::Device(c10::kCPU));
  const auto pinned = Classifier::open_run(
      run(), ClassifierOptions().precision(native ? Precision::kBFloat16 : Precision::kFloat32));
  std::vector<at::Tensor> prepared;
  for (const auto& picture : pictures) prepared.push_back(chosen.prepare(picture));
  const auto batch = torch::stack(prepared);
  EXPECT_TRUE(torch::equal(chosen.logits(batch), pinned.logits(batch)));

  const auto eager = Classifier::open_run(run(), fp32().fuse(false));
  const auto trained = train::load_run(run());
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(eager.logits(batch), trained.model->forward(batch)));
}

TEST_F(ClassifierTest, BatchesImagesAndFilesAlike) {
  const auto pictures = images(7);
  const auto whole = Classifier::open_run(run()).classify(pictures, 1);
  const auto batched = Classifier::open_run(run(), ClassifierOptions().batch_size(3));
  const auto in_threes = batched.classify(pictures, 1);
  std::vector<fs::path> files;
  for (size_t i = 0; i < pictures.size(); ++i) {
    const auto& image = pictures[i];
    cv::Mat mat(static_cast<int>(image.height), static_cast<int>(image.width),
                image.channels == 1 ? CV_8UC1 : CV_8UC3,
                const_cast<uint8_t*>(image.pixels.data()));
    files.push_back(*dir_ / ("picture" + std::to_string(i) + ".png"));
    ASSERT_TRUE(cv::imwrite(files.back().string(), mat));  // grey, so RGB vs BGR does not matter
  }
  ASSERT_EQ(pictures[0].channels, 1);
  const auto from_files = batched.classify(files, 1);
  ASSERT_EQ(in_threes.size(), 7u);
  ASSERT_EQ(from_files.size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(in_threes[i].indices, whole[i].indices);
    EXPECT_NEAR(in_threes[i].probabilities[0], whole[i].probabilities[0], 1e-6);
    EXPECT_EQ(from_files[i].indices, whole[i].indices);
    EXPECT_NEAR(from_files[i].probabilities[0], whole[i].probabilities[0], 1e-6);
    const auto one = batched.classify(files[i], 1);
    EXPECT_EQ(one.indices, whole[i].indices);
  }
}

// Two threads classifying with one Classifier at once get what one thread gets.
TEST_F(ClassifierTest, ClassifiesFromTwoThreadsAtOnce) {
  const auto classifier = Classifier::open_run(run(), ClassifierOptions().batch_size(2));
  const auto pictures = images(8);
  const auto alone = classifier.classify(pictures, 2);
  std::vector<Prediction> first, second;
  std::thread a([&] { for (int i = 0; i < 5; ++i) first = classifier.classify(pictures, 2); });
  std::thread b([&] { for (int i = 0; i < 5; ++i) second = classifier.classify(pictures, 2); });
  a.join();
  b.join();
  for (size_t i = 0; i < alone.size(); ++i) {
    EXPECT_EQ(first[i].indices, alone[i].indices);
    EXPECT_EQ(second[i].indices, alone[i].indices);
    for (size_t j = 0; j < alone[i].probabilities.size(); ++j) {  // kernels may split work otherwise
      EXPECT_NEAR(first[i].probabilities[j], alone[i].probabilities[j], 1e-6);
      EXPECT_NEAR(second[i].probabilities[j], alone[i].probabilities[j], 1e-6);
    }
  }
}

TEST_F(ClassifierTest, TopKIsClampedToTheClassesAndLabelsCanBeRenamed) {
  const auto classifier =
      Classifier::open_run(run(), ClassifierOptions().labels({"trousers", "handbag"}));
  const auto prediction = classifier.classify(images(1)[0], 5);
  ASSERT_EQ(prediction.labels.size(), 2u);
  EXPECT_NEAR(prediction.probabilities[0] + prediction.probabilities[1], 1.0, 1e-6);
  for (size_t j = 0; j < 2; ++j) {
    EXPECT_EQ(prediction.labels[j], prediction.indices[j] == 0 ? "trousers" : "handbag");
  }
}

// Each mistake throws its kind of error with a message that names what was wrong.
template <typename E, typename F>
void expect_error(F&& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one saying '" << part << "'";
  } catch (const E& error) {
    EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
  }
}

TEST_F(ClassifierTest, RefusesWhatDoesNotFit) {
  expect_error<IoError>([] { Classifier::open_run(*dir_ / "absent"); }, "absent");
  expect_error<InvalidArgument>(
      [] { Classifier::open_run(run(), ClassifierOptions().labels({"one", "two", "three"})); },
      "expected 2 labels");
  expect_error<InvalidArgument>(
      [] { Classifier::open_run(run(), ClassifierOptions().whole_image(true)); }, "whole_image");
  expect_error<InvalidArgument>(
      [] { Classifier::open_run(run(), ClassifierOptions().batch_size(0)); }, "batch_size");
  expect_error<InvalidArgument>(
      [] { Classifier::open_run(run(), ClassifierOptions().threads(-1)); }, "threads");
  // Options are refused before any weights are read: the file need not exist.
  expect_error<InvalidArgument>(
      [] {
        Classifier::open_weights("resnet20", (*dir_ / "absent.pth").string(),
                                 ClassifierOptions().batch_size(0));
      },
      "batch_size");
  const auto classifier = Classifier::open_run(run());
  expect_error<InvalidArgument>([&] { classifier.classify(images(1), 0); }, "topk >= 1");
  expect_error<InvalidArgument>([&] { classifier.logits(torch::zeros({2, 1, 32, 32})); },
                                "found [2, 1, 32, 32] Float");
  expect_error<InvalidArgument>(
      [&] { classifier.logits(torch::zeros({3, 32, 32}, torch::kUInt8)); }, "[3, 32, 32] Byte");
  expect_error<IoError>([&] { classifier.classify(*dir_ / "missing.png"); }, "missing.png");
}

// A weights file of a CIFAR-10 ResNet-20: its labels are CIFAR-10's, its input spec the
// model's; whole_image squeezes the picture instead of cropping its centre.
// tta_five_crop (xfer predict and classify --tta five-crop, ten-crop): prepare() stacks
// torchvision's five crops of the resized image, the centre one last, and probabilities() is the
// mean over them (and their mirrors), computed here crop by crop; a run that resizes whole images,
// whole_image and unstacked images are refused.
TEST_F(ClassifierTest, FiveCropTtaClassifiesByTheMeanOverTheCrops) {
  // The fixture's run as if it had been trained at the model's own input, resized beyond its crop.
  const fs::path cropping = *dir_ / "cropping-run";
  fs::remove_all(cropping);
  fs::copy(run(), cropping, fs::copy_options::recursive);
  auto config = nlohmann::json::parse(read_file(cropping / "config.json"));
  config["image_size"] = 0;
  write_file_atomically(cropping / "config.json", config.dump(2));
  auto description = nlohmann::json::parse(read_file(cropping / "model.json"));
  const int64_t side = description["input"]["size"].get<int64_t>();
  description["input"]["resize"] = side + 6;
  write_file_atomically(cropping / "model.json", description.dump(2));

  const auto plain = Classifier::open_run(cropping, fp32());
  const models::InputSpec input = plain.input();
  ASSERT_EQ(input.resize, side + 6);
  for (const bool ten : {false, true}) {
    const auto tta = Classifier::open_run(cropping, fp32().tta_five_crop(true).tta_flip(ten));
    std::vector<at::Tensor> prepared;
    std::vector<at::Tensor> expected;
    for (const auto& picture : images(4)) {
      at::Tensor x = five_crops(picture, input);  // [5, 3, S, S]
      const auto stacked = tta.prepare(picture);  // [3, 5S, S]
      ASSERT_EQ(stacked.sizes(), (std::vector<int64_t>{3, 5 * side, side}));
      EXPECT_TRUE(torch::equal(stacked, torch::cat(x.unbind(0), 1)));
      EXPECT_TRUE(torch::equal(stacked.slice(1, 4 * side), plain.prepare(picture)));
      prepared.push_back(stacked);
      if (ten) x = torch::cat({x, x.flip({3})});
      expected.push_back(plain.probabilities(x).mean(0));
    }
    const auto p = tta.probabilities(torch::stack(prepared));
    EXPECT_TRUE(torch::allclose(p, torch::stack(expected), 1e-5, 1e-6)) << (ten ? "ten" : "five");
    const auto predictions = tta.classify(images(4), 1);
    for (size_t i = 0; i < predictions.size(); ++i) {
      EXPECT_NEAR(predictions[i].probabilities[0], p[static_cast<int64_t>(i)].max().item<double>(),
                  1e-6);
    }
  }
  expect_error<InvalidArgument>(
      [] { Classifier::open_run(run(), ClassifierOptions().tta_five_crop(true)); },
      "resizes whole images to 32 x 32");
  expect_error<InvalidArgument>(
      [] {
        Classifier::open_weights("resnet20", "absent.pth",
                                 ClassifierOptions().whole_image(true).tta_five_crop(true));
      },
      "nothing to crop");
  const auto tta = Classifier::open_run(cropping, fp32().tta_five_crop(true));
  expect_error<InvalidArgument>(
      [&] { tta.probabilities(torch::stack({plain.prepare(images(1)[0])})); },
      "expects prepare()'s stacked crops [N, 3, 5S, S], found [1, 3, 32, 32]");
}

TEST_F(ClassifierTest, OpensAZooModelWithAWeightsFile) {
  torch::manual_seed(7);
  auto model = models::create_model("resnet20", models::ModelOptions().num_classes(10));
  const fs::path file = *dir_ / "resnet20.safetensors";
  weights::write_safetensors(file, weights::state_dict_of(*model));
  model->eval();

  const auto crop = Classifier::open_weights("resnet20", file.string(), fp32());
  ASSERT_EQ(crop.classes().size(), 10u);
  EXPECT_EQ(crop.classes()[0], "airplane");
  EXPECT_NE(crop.description().find("resnet20 with " + file.string()), std::string::npos);

  auto picture = transforms::Image::filled(48, 40, 3);
  for (size_t i = 0; i < picture.pixels.size(); ++i) picture.pixels[i] = static_cast<uint8_t>(i * 7);
  const auto input = crop.input();
  transforms::EvalParams params;
  params.size = input.size;
  params.resize = input.resize;
  params.mean = input.mean;
  params.std = input.std;
  const auto cropped = transforms::Transform::eval(params)(picture, 0);
  EXPECT_TRUE(torch::equal(crop.prepare(picture), cropped));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(crop.logits(cropped.unsqueeze(0)),
                              model->forward(cropped.unsqueeze(0)), 1e-5, 1e-5));

  const auto whole = Classifier::open_weights("resnet20", file.string(),
                                              ClassifierOptions().whole_image(true));
  const auto squeezed = transforms::Transform()
                            .resize(transforms::Size{input.size, input.size})
                            .normalize(input.mean, input.std)(picture, 0);
  EXPECT_TRUE(torch::equal(whole.prepare(picture), squeezed));
  EXPECT_FALSE(torch::equal(squeezed, cropped));

  expect_error<InvalidArgument>([&] { Classifier::open_weights("resnet21", file.string()); },
                                "resnet21");
}

}  // namespace
}  // namespace xfer
