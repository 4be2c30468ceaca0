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
  EXPECT_TRUE(contains(result.out, "0.weight")) << result.out;
  EXPECT_TRUE(contains(result.out, "float32   [4, 3]")) << result.out;
  EXPECT_TRUE(contains(result.out, "1.num_batches_tracked")) << result.out;
  EXPECT_TRUE(contains(result.out, "int64     []")) << result.out;
  EXPECT_FALSE(contains(result.out, "module.")) << result.out;
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
  EXPECT_TRUE(contains(evil.err, "refusing")) << evil.err;
  EXPECT_TRUE(evil.out.empty()) << evil.out;
}

TEST(WeightsCli, ConvertRoundTripKeepsEveryTensor) {
  const auto dir = temp_dir("convert");
  const auto safetensors = (dir / "nested.safetensors").string();
  const auto pth = (dir / "back.pth").string();
  const auto first = run_xfer({"weights", "convert", fixture("nested_legacy.pth"), safetensors});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(contains(first.out, "(pth-legacy, 7 tensors)")) << first.out;
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
    ASSERT_EQ(result->tensors.keys(), original.tensors.keys());
    for (const auto& item : original.tensors) {
      const auto& other = result->tensors[item.key()];
      EXPECT_EQ(other.scalar_type(), item.value().scalar_type()) << item.key();
      EXPECT_TRUE(torch::equal(other, item.value())) << item.key();
    }
  }
  const auto inspected = run_xfer({"weights", "inspect", "--json", pth});
  ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_EQ(nlohmann::json::parse(inspected.out)["parameters"], 33);
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
