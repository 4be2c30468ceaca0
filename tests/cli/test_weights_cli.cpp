// `xfer weights fetch|inspect|convert` as a user meets them: exit codes and output, with the
// downloads served by a local HTTP server on 127.0.0.1. The fetches of the real ResNet-20
// weights from ../shared are in test_weights_shared.cpp.

#include "fetch_environment.h"
#include "support/http_server.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/download/digest.h"
#include "xfer/weights/checkpoint.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

namespace {

using xfer::testing::FetchEnvironment;
using xfer::testing::fixtures_dir;
using xfer::testing::LocalHttpServer;
using xfer::testing::run_xfer;
using xfer::testing::temp_dir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string fixture(const std::string& name) {
  return (fixtures_dir() / "weights" / name).string();
}

TEST(WeightsCli, HelpListsTheSubcommandsAndEachHasThreads) {
  const auto help = run_xfer({"weights", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const std::string command : {"fetch", "inspect", "convert"}) {
    EXPECT_TRUE(contains(help.out, command)) << help.out;
    const auto result = run_xfer({"weights", command, "--help"});
    EXPECT_EQ(result.exit_code, 0) << command << ": " << result.err;
    EXPECT_TRUE(contains(result.out, "--threads")) << command << ": " << result.out;
  }
  EXPECT_EQ(run_xfer({"weights"}).exit_code, 2);
  EXPECT_EQ(run_xfer({"weights", "inspect"}).exit_code, 2);
}

TEST(WeightsCli, InspectListsTensorsCountAndExtras) {
  const auto result = run_xfer({"weights", "inspect", fixture("nested_legacy.pth")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "format      pth-legacy")) << result.out;
  EXPECT_TRUE(contains(result.out, "tensors     7")) << result.out;
  // 4x3 + 4 (linear) + 4 x 4 (batch norm) + 1 (num_batches_tracked)
  EXPECT_TRUE(contains(result.out, "parameters  33")) << result.out;
  // Every tensor under its key path in the file, and where the model's weights are.
  EXPECT_TRUE(contains(result.out, "state_dict.module.0.weight               float32   [4, 3]"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "state_dict.module.1.num_batches_tracked")) << result.out;
  EXPECT_TRUE(contains(result.out, "int64     []")) << result.out;
  EXPECT_TRUE(contains(result.out, "weights     7 tensors under 'state_dict.module.', which their "
                                   "keys lose: what --weights loads"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "epoch = 3")) << result.out;
  EXPECT_TRUE(contains(result.out, "best_prec1 = 91.5")) << result.out;
  EXPECT_TRUE(contains(result.out,
                       "sha256      " + xfer::download::sha256_file(fixture("nested_legacy.pth"))))
      << result.out;
}

TEST(WeightsCli, InspectJsonDescribesEveryTensorAndTheMetadata) {
  const auto result = run_xfer({"weights", "inspect", "--json", fixture("handmade.safetensors")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["format"], "safetensors");
  ASSERT_EQ(json["tensors"].size(), 8u);
  EXPECT_EQ(json["tensors"][0]["name"], "weight");
  EXPECT_EQ(json["tensors"][0]["dtype"], "float32");
  EXPECT_EQ(json["tensors"][0]["shape"], nlohmann::json({2, 2}));
  EXPECT_EQ(json["tensors"][4]["dtype"], "bfloat16");
  EXPECT_EQ(json["parameters"], 4 + 3 + 2 + 2 + 1 + 2 + 2 + 1);
  EXPECT_EQ(json["metadata"]["source"], "make_weight_fixtures");
  EXPECT_TRUE(json["extras"].empty());
}

TEST(WeightsCli, InspectErrorsHaveTheirExitCodes) {
  const auto missing = run_xfer({"weights", "inspect", "/nonexistent/weights.pth"});
  EXPECT_EQ(missing.exit_code, 4);
  EXPECT_TRUE(contains(missing.err, "/nonexistent/weights.pth")) << missing.err;
  const auto evil = run_xfer({"weights", "inspect", fixture("evil_zip.pth")});
  EXPECT_EQ(evil.exit_code, 5);
  EXPECT_TRUE(contains(evil.err, "refused: the pickle needs global 'posix.system', which is not a "
                                 "tensor type"))
      << evil.err;
  EXPECT_TRUE(evil.out.empty()) << evil.out;
}

TEST(WeightsCli, ConvertRoundTripKeepsEveryTensor) {
  const auto dir = temp_dir("convert");
  const auto safetensors = (dir / "nested.safetensors").string();
  const auto pth = (dir / "back.pth").string();
  const auto first = run_xfer({"weights", "convert", fixture("nested_legacy.pth"), safetensors});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(contains(first.out, "(pth-legacy, 7 tensors) -> " + safetensors +
                                      " (safetensors, 7 tensors)"))
      << first.out;
  EXPECT_TRUE(contains(first.out, "not carried over (not tensors): epoch, best_prec1, arch"))
      << first.out;
  const auto second = run_xfer({"weights", "convert", safetensors, pth, "--threads", "1"});
  ASSERT_EQ(second.exit_code, 0) << second.err;

  const auto original = xfer::weights::read_checkpoint(fixture("nested_legacy.pth"));
  const auto converted = xfer::weights::read_checkpoint(safetensors);
  const auto back = xfer::weights::read_checkpoint(pth);
  EXPECT_EQ(converted.format, "safetensors");
  EXPECT_EQ(back.format, "pth-zip");
  for (const auto* result : {&converted, &back}) {
    ASSERT_EQ(result->all_tensors.keys(), original.all_tensors.keys());
    for (const auto& item : original.all_tensors) {
      const auto& other = result->all_tensors[item.key()];
      EXPECT_EQ(other.scalar_type(), item.value().scalar_type()) << item.key();
      EXPECT_TRUE(torch::equal(other, item.value())) << item.key();
    }
  }
  // The safetensors file says where the weights are; a .pth cannot, and says so.
  EXPECT_EQ(converted.tensors.keys(), original.tensors.keys());
  EXPECT_EQ(converted.weights_prefix, "state_dict.module.");
  EXPECT_TRUE(contains(second.out, "not carried over (metadata, which .pth cannot hold): "
                                   "xfer.weights"))
      << second.out;
  const auto inspected = run_xfer({"weights", "inspect", "--json", pth});
  ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_EQ(nlohmann::json::parse(inspected.out)["parameters"], 33);
}

TEST(WeightsCli, ConvertModelOnlyWritesTheUnwrappedStateDict) {
  const auto dir = temp_dir("convert-model");
  const auto out = (dir / "model.safetensors").string();
  const auto result =
      run_xfer({"weights", "convert", "--model-only", fixture("tutorial.pth"), out});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "(pth-zip, 12 tensors) -> " + out +
                                       " (safetensors, 7 tensors: the model's weights, "
                                       "'model_state_dict.' removed from their keys)"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "left out by --model-only: 5 tensors: optimizer_state_dict (4), "
                                   "loss (1)"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "not carried over (not tensors): epoch, "
                                   "optimizer_state_dict.param_groups"))
      << result.out;
  const auto written = xfer::weights::read_checkpoint(out);
  EXPECT_EQ(written.all_tensors.keys(),
            xfer::weights::read_checkpoint(fixture("tutorial.pth")).tensors.keys());

  // Without --model-only the optimizer state comes along under its key path.
  const auto all = (dir / "all.safetensors").string();
  ASSERT_EQ(run_xfer({"weights", "convert", fixture("tutorial.pth"), all}).exit_code, 0);
  EXPECT_TRUE(xfer::weights::read_checkpoint(all).all_tensors.contains(
      "optimizer_state_dict.state.3.momentum_buffer"));
}

TEST(WeightsCli, InspectShowsQuantizationAndConvertKeepsIt) {
  const auto inspected = run_xfer({"weights", "inspect", fixture("quantized.pth")});
  ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_TRUE(contains(inspected.out, "conv.weight  qint8     [2, 3, 2, 2]  (as int8 int_repr, "
                                      "per_tensor_affine scale 0.050000000000000003 zero_point 3)"))
      << inspected.out;
  EXPECT_TRUE(contains(inspected.out, "(as int8 int_repr, per_channel_affine axis 0)"))
      << inspected.out;
  const auto json = nlohmann::json::parse(
      run_xfer({"weights", "inspect", "--json", fixture("quantized.pth")}).out);
  EXPECT_EQ(json["tensors"][0]["dtype"], "qint8");
  EXPECT_EQ(json["tensors"][0]["held_as"], "int8");
  EXPECT_EQ(json["tensors"][0]["quantization"]["zero_point"], 3);
  EXPECT_EQ(json["tensors"][2]["quantization"]["scales"],
            nlohmann::json({double{0.1f}, double{0.2f}, double{0.3f}}));

  const auto out = (temp_dir("convert-q") / "q.safetensors").string();
  const auto converted = run_xfer({"weights", "convert", fixture("quantized.pth"), out});
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  EXPECT_TRUE(contains(converted.out, "quantized, written as their integer representation with "
                                      "scale and zero point in __metadata__['xfer.quantized']: "
                                      "conv.weight, fc.weight, act"))
      << converted.out;
  const auto pth = (temp_dir("convert-q") / "q.pth").string();
  const auto lossy = run_xfer({"weights", "convert", fixture("quantized.pth"), pth});
  ASSERT_EQ(lossy.exit_code, 0) << lossy.err;
  EXPECT_TRUE(contains(lossy.out, "written without its dtype: conv.weight is qint8 (its integer "
                                  "representation, without scale and zero point)"))
      << lossy.out;
}

TEST(WeightsCli, RefusedFilesSayWhyWithExitCode5) {
  const auto user = run_xfer({"weights", "inspect", fixture("user_class.pth")});
  EXPECT_EQ(user.exit_code, 5);
  EXPECT_TRUE(contains(user.err, "error: " + fixture("user_class.pth")))
      << user.err;
  EXPECT_TRUE(contains(user.err, "refused: the pickle needs global '__main__.Vocab', which is not "
                                 "a tensor type (a user class: xfer reads only tensors, "
                                 "containers and a few safe types)"))
      << user.err;
  const auto script = run_xfer({"weights", "inspect", fixture("torchscript.pt")});
  EXPECT_EQ(script.exit_code, 5);
  EXPECT_TRUE(contains(script.err, "a TorchScript archive (torch.jit.save), not a state_dict"))
      << script.err;
  const auto out = temp_dir("convert-refused") / "out.safetensors";
  const auto convert = run_xfer({"weights", "convert", fixture("user_class.pth"), out.string()});
  EXPECT_EQ(convert.exit_code, 5);
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(WeightsCli, ConvertToAnUnknownExtensionNamesTheTwoAccepted) {
  const auto out = temp_dir("convert") / "weights.bin";
  const auto result = run_xfer({"weights", "convert", fixture("linear_bn.pth"), out.string()});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_TRUE(contains(result.err, ".safetensors or .pth")) << result.err;
  EXPECT_TRUE(contains(result.err, "'.bin'")) << result.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(WeightsCli, FetchOfAnUnknownNameIsAnInvalidArgument) {
  const auto model = run_xfer({"weights", "fetch", "resnet19"});
  EXPECT_EQ(model.exit_code, 3);
  EXPECT_TRUE(contains(model.err, "unknown model 'resnet19'")) << model.err;
  const auto weights = run_xfer({"weights", "fetch", "resnet20:IMAGENET1K_V1"});
  EXPECT_EQ(weights.exit_code, 3);
  EXPECT_TRUE(contains(weights.err, "no weights 'IMAGENET1K_V1'")) << weights.err;
  EXPECT_TRUE(contains(weights.err, "known: CIFAR10")) << weights.err;
}

TEST(WeightsCli, FetchRefusesAFileWithTheWrongHash) {
  const auto served = temp_dir("served");
  std::ofstream(served / "resnet20-12fca82f.th") << "not the CIFAR ResNet-20 weights";
  LocalHttpServer server(served);
  FetchEnvironment environment(server.base_url());
  const auto result = run_xfer({"weights", "fetch", "resnet20:CIFAR10"});
  EXPECT_EQ(result.exit_code, 4) << result.err;
  EXPECT_TRUE(contains(result.err, server.url("resnet20-12fca82f.th"))) << result.err;
  EXPECT_TRUE(contains(result.err, "SHA-256 mismatch")) << result.err;
  EXPECT_TRUE(contains(result.err, "expected 12fca82f")) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
  EXPECT_TRUE(environment.cache_empty());
}

TEST(WeightsCli, FetchReportsA404FromWeightsUrl) {
  LocalHttpServer server(temp_dir("served"));
  FetchEnvironment environment("");
  const auto url = server.url("nothing-here.th");
  const auto result = run_xfer({"weights", "fetch", "resnet20", "--weights-url", url});
  EXPECT_EQ(result.exit_code, 4) << result.err;
  EXPECT_TRUE(contains(result.err, url + ": HTTP status 404")) << result.err;
  EXPECT_EQ(server.requests(), 1);
  EXPECT_TRUE(environment.cache_empty());
}

}  // namespace
