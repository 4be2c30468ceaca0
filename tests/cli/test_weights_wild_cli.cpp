// `xfer weights inspect|convert` on the 29 real checkpoints of ../shared/data/pth-wild, as a user
// meets them: each is shown or refused with exit code 5 and a message that says why; none
// crashes. The byte-for-byte comparison with torch.load is tests/unit/weights/test_pth_wild.cpp.

#include "support/paths.h"
#include "support/process.h"
#include "xfer/weights/checkpoint.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace {

namespace fs = std::filesystem;
using xfer::testing::run_xfer;
using xfer::testing::temp_dir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

fs::path wild_dir() { return xfer::testing::shared_dir() / "data" / "pth-wild"; }

std::string wild(const std::string& name) { return (wild_dir() / "files" / name).string(); }

TEST(WeightsCliWild, EveryFileIsShownOrRefusedWithExitCode5) {
  XFER_REQUIRE_SHARED(wild_dir() / "reference.jsonl");
  std::ifstream in(wild_dir() / "reference.jsonl");
  int shown = 0;
  for (std::string line; std::getline(in, line);) {
    const auto ref = nlohmann::json::parse(line);
    const std::string file = wild(ref["file"]);
    const auto result = run_xfer({"weights", "inspect", "--json", file});
    if (ref["error"].is_null()) {
      ASSERT_EQ(result.exit_code, 0) << file << ": " << result.err;
      const auto json = nlohmann::json::parse(result.out);
      size_t expected = ref["tensors"].size();
      if (ref.contains("numpy_arrays")) expected += ref["numpy_arrays"].size();
      EXPECT_EQ(json["tensors"].size(), expected) << file;
      ++shown;
    } else {
      EXPECT_EQ(result.exit_code, 5) << file << ": " << result.out;
      EXPECT_TRUE(contains(result.err, "error: " + file + ": ")) << result.err;
      EXPECT_TRUE(result.out.empty()) << result.out;
    }
  }
  EXPECT_EQ(shown, 26);
}

TEST(WeightsCliWild, RefusalsNameTheGlobalAndWhy) {
  XFER_REQUIRE_SHARED(wild_dir() / "reference.jsonl");
  const auto vocab = run_xfer({"weights", "inspect", wild("Kam227__HW1-LM__lstm_model.pth")});
  EXPECT_EQ(vocab.exit_code, 5);
  EXPECT_TRUE(contains(vocab.err,
                       "refused: the pickle needs global 'utils.Vocab', which is not a "
                       "tensor type (a user class: xfer reads only tensors, containers "
                       "and a few safe types)"))
      << vocab.err;

  const auto onmt =
      run_xfer({"weights", "inspect", wild("OpenNMT__OpenNMT-py__data_test_model2.pt")});
  EXPECT_EQ(onmt.exit_code, 5);
  for (const char* global :
       {"'onmt.Optim.Optim'", "'torchtext.vocab.Vocab'", "'collections.Counter'"}) {
    EXPECT_TRUE(contains(onmt.err, global)) << onmt.err;
  }

  const auto script = run_xfer(
      {"weights", "inspect", wild("suvrat96__DemoQuanitizationExample__quantized_model.pth")});
  EXPECT_EQ(script.exit_code, 5);
  EXPECT_TRUE(contains(script.err,
                       "a TorchScript archive (torch.jit.save), not a state_dict: its "
                       "model is code (quantized_model/code/, "
                       "quantized_model/constants.pkl) that xfer does not run"))
      << script.err;
}

TEST(WeightsCliWild, InspectSaysWhereTheWeightsAre) {
  XFER_REQUIRE_SHARED(wild_dir() / "reference.jsonl");
  const auto ckpt =
      run_xfer({"weights", "inspect", wild("kejeon__in_dev_RN20__checkpoint_ckpt.pth")});
  ASSERT_EQ(ckpt.exit_code, 0) << ckpt.err;
  EXPECT_TRUE(contains(ckpt.out, "tensors     116\n")) << ckpt.out;
  EXPECT_TRUE(contains(ckpt.out, "weights     116 tensors under 'net.module.'")) << ckpt.out;
  EXPECT_TRUE(contains(ckpt.out, "net.module.conv1.weight")) << ckpt.out;
  EXPECT_TRUE(contains(ckpt.out, "acc = 92.12")) << ckpt.out;

  const auto none =
      run_xfer({"weights", "inspect", wild("LanceKnight__MolKGNN__data_split_9999_seed2.pt")});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_TRUE(contains(none.out, "tensors     0\n")) << none.out;
  EXPECT_TRUE(contains(none.out, "no tensors")) << none.out;
  EXPECT_TRUE(contains(none.out, "train = [36, 2, 24")) << none.out;

  const auto module =
      run_xfer({"weights", "inspect", wild("amiltonwong__pytorch_practice__net.pkl")});
  ASSERT_EQ(module.exit_code, 0) << module.err;
  EXPECT_TRUE(contains(module.out, "0.weight  float32   [10, 2]")) << module.out;
  EXPECT_TRUE(contains(module.out, "(top) = <nn.Module torch.nn.modules.container.Sequential>"))
      << module.out;
}

TEST(WeightsCliWild, ConvertCarriesEveryTensorOfALightningCheckpoint) {
  XFER_REQUIRE_SHARED(wild_dir() / "reference.jsonl");
  const auto dir = temp_dir("wild-convert");
  const std::string in = wild("LanceKnight__MolKGNN__training_molkgnn_last.ckpt");
  const auto all = (dir / "all.safetensors").string();
  const auto result = run_xfer({"weights", "convert", in, all});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(
      contains(result.out, "(pth-zip, 302 tensors) -> " + all + " (safetensors, 302 tensors)"))
      << result.out;
  EXPECT_TRUE(contains(result.out,
                       "not carried over (not tensors): epoch, global_step, "
                       "pytorch-lightning_version"))
      << result.out;
  const auto written = xfer::weights::read_checkpoint(all);
  EXPECT_EQ(written.all_tensors.keys(), xfer::weights::read_checkpoint(in).all_tensors.keys());
  EXPECT_EQ(written.tensors.size(), 130u);

  const auto model = (dir / "model.safetensors").string();
  const auto only = run_xfer({"weights", "convert", "--model-only", in, model});
  ASSERT_EQ(only.exit_code, 0) << only.err;
  EXPECT_TRUE(contains(only.out,
                       "(safetensors, 130 tensors: the model's weights, 'state_dict.' "
                       "removed from their keys)"))
      << only.out;
  EXPECT_TRUE(contains(only.out,
                       "left out by --model-only: 172 tensors: callbacks (12), "
                       "optimizer_states (160)"))
      << only.out;
}

TEST(WeightsCliWild, ConvertOfAFileWithoutTensorsSaysSo) {
  XFER_REQUIRE_SHARED(wild_dir() / "reference.jsonl");
  const auto out = temp_dir("wild-empty") / "out.safetensors";
  const auto result = run_xfer(
      {"weights", "convert", wild("LanceKnight__MolKGNN__data_split_9999_seed2.pt"), out.string()});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_TRUE(contains(result.err, "the input holds no tensors; nothing to write to " +
                                       out.string() + " (it holds train, valid, test)"))
      << result.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(WeightsCliWild, QuantizedFileConvertsWithItsQuantization) {
  XFER_REQUIRE_SHARED(wild_dir() / "reference.jsonl");
  const auto out = (temp_dir("wild-q") / "q.safetensors").string();
  const std::string in = wild("douzaikongcheng__cifar10_pytorch_quantization_demo__model_int8.pth");
  const auto result = run_xfer({"weights", "convert", in, out});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto original = xfer::weights::read_checkpoint(in);
  const auto written = xfer::weights::read_checkpoint(out);
  EXPECT_EQ(written.file_dtypes, original.file_dtypes);
  for (const auto& [key, q] : original.quantized) {
    EXPECT_EQ(written.quantized.at(key).scale, q.scale) << key;
    EXPECT_EQ(written.quantized.at(key).zero_point, q.zero_point) << key;
    EXPECT_TRUE(torch::equal(written.all_tensors[key], original.all_tensors[key])) << key;
  }
}

}  // namespace
