// The layouts of real checkpoints, in small files written by tools/make_checkpoint_fixtures.py
// with Python's torch: every tensor read under its key path, the model's weights unwrapped,
// quantized tensors, numpy arrays, Namespaces, whole pickled modules; and the files refused.

#include "expected_values.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/convert.h"
#include "xfer/weights/load.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <iterator>

namespace {

using xfer::weights::Checkpoint;
using xfer::weights::read_checkpoint;

std::filesystem::path fixture(const std::string& name) {
  return xfer::testing::fixtures_dir() / "weights" / name;
}

std::string extra(const Checkpoint& c, const std::string& name) {
  for (const auto& [k, v] : c.extras) {
    if (k == name) return v;
  }
  return "<absent>";
}

std::string dtype_of(const Checkpoint& c, const std::string& key) {
  auto found = c.file_dtypes.find(key);
  return found != c.file_dtypes.end() ? found->second
                                      : xfer::weights::dtype_name(c.all_tensors[key].scalar_type());
}

// all_tensors holds exactly the tensors Python saw, in order, under their key paths.
void expect_all_tensors_match_python(const std::string& file) {
  SCOPED_TRACE(file);
  const Checkpoint c = read_checkpoint(fixture(file));
  const auto expected = xfer::testing::expected_layout_tensors(file);
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(c.all_tensors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& e = expected[i];
    SCOPED_TRACE(e.name);
    ASSERT_EQ(c.all_tensors[i].key(), e.name);
    const torch::Tensor& t = c.all_tensors[i].value();
    EXPECT_EQ(dtype_of(c, e.name), e.dtype);
    EXPECT_EQ(t.sizes().vec(), e.shape);
    torch::Tensor values = t.to(torch::kFloat64).contiguous().reshape(-1);
    if (e.dtype == "uint16") values = values + (values < 0).to(torch::kFloat64) * 65536.0;
    ASSERT_EQ(values.numel(), static_cast<int64_t>(e.values.size()));
    for (size_t k = 0; k < e.values.size(); ++k) {
      EXPECT_EQ(values[static_cast<int64_t>(k)].item<double>(), e.values[k]) << "element " << k;
    }
  }
}

std::vector<std::string> keys_of(const xfer::weights::StateDict& tensors) { return tensors.keys(); }

const std::vector<std::string> kModelKeys{"0.weight",
                                          "0.bias",
                                          "1.weight",
                                          "1.bias",
                                          "1.running_mean",
                                          "1.running_var",
                                          "1.num_batches_tracked"};

torch::nn::Sequential small_model() {
  return torch::nn::Sequential(torch::nn::Linear(3, 4), torch::nn::BatchNorm1d(4));
}

TEST(CheckpointLayouts, TutorialCheckpointKeepsOptimizerStateAndUnwrapsTheModel) {
  expect_all_tensors_match_python("tutorial.pth");
  const Checkpoint c = read_checkpoint(fixture("tutorial.pth"));
  EXPECT_EQ(c.weights_prefix, "model_state_dict.");
  EXPECT_EQ(keys_of(c.tensors), kModelKeys);
  EXPECT_TRUE(c.all_tensors.contains("optimizer_state_dict.state.3.momentum_buffer"));
  EXPECT_EQ(extra(c, "epoch"), "5");
  EXPECT_EQ(extra(c, "optimizer_state_dict.param_groups").substr(0, 9), "[{'lr': 0");
  auto model = small_model();
  auto report = xfer::weights::load_into(*model, c.tensors);
  EXPECT_EQ(report.loaded.size(), kModelKeys.size());
  EXPECT_TRUE(torch::equal(model[0]->named_parameters()["weight"], c.tensors["0.weight"]));
}

TEST(CheckpointLayouts, LightningCheckpointLosesStateDictAndModelPrefixes) {
  expect_all_tensors_match_python("lightning.ckpt");
  const Checkpoint c = read_checkpoint(fixture("lightning.ckpt"));
  EXPECT_EQ(c.weights_prefix, "state_dict.model.");
  EXPECT_EQ(keys_of(c.tensors), kModelKeys);
  EXPECT_EQ(extra(c, "pytorch-lightning_version"), "'1.9.0'");
  EXPECT_EQ(extra(c, "lr_schedulers"), "[]");
  EXPECT_EQ(extra(c, "callbacks"), "{'EarlyStopping': {'wait_count': 0}}");
  auto model = small_model();
  EXPECT_NO_THROW(xfer::weights::load_into(*model, c.tensors));
}

TEST(CheckpointLayouts, NetEntryWithDataParallelPrefix) {
  expect_all_tensors_match_python("net_dataparallel.pth");
  const Checkpoint c = read_checkpoint(fixture("net_dataparallel.pth"));
  EXPECT_EQ(c.weights_prefix, "net.module.");
  EXPECT_EQ(keys_of(c.tensors), kModelKeys);
  EXPECT_EQ(extra(c, "acc"), "91.25");
}

TEST(CheckpointLayouts, QuantizedTensorsAreTheirIntegerRepresentationWithTheirParameters) {
  expect_all_tensors_match_python("quantized.pth");
  const Checkpoint c = read_checkpoint(fixture("quantized.pth"));
  const torch::Tensor& conv = c.all_tensors["conv.weight"];
  EXPECT_EQ(conv.scalar_type(), torch::kInt8);
  // Channels-last, as saved: a reader that assumed contiguous data would scramble it.
  EXPECT_EQ(conv.strides().vec(), (std::vector<int64_t>{12, 1, 6, 3}));
  EXPECT_EQ(c.file_dtypes.at("conv.weight"), "qint8");
  const auto& q = c.quantized.at("conv.weight");
  EXPECT_EQ(q.scheme, "per_tensor_affine");
  EXPECT_DOUBLE_EQ(q.scale, 0.05);
  EXPECT_EQ(q.zero_point, 3);

  const auto& fc = c.quantized.at("fc.weight");
  EXPECT_EQ(fc.scheme, "per_channel_affine");
  EXPECT_EQ(fc.axis, 0);
  // Python made the scales float32 before quantize_per_channel stored them as float64.
  EXPECT_TRUE(torch::equal(fc.scales, torch::tensor({0.1f, 0.2f, 0.3f}).to(torch::kFloat64)));
  EXPECT_TRUE(torch::equal(fc.zero_points, torch::tensor({0, 1, -2}, torch::kInt64)));

  EXPECT_EQ(c.all_tensors["act"].scalar_type(), torch::kUInt8);
  EXPECT_EQ(c.file_dtypes.at("act"), "quint8");
  EXPECT_EQ(c.quantized.at("act").zero_point, 128);
  EXPECT_EQ(c.file_dtypes.count("conv.bias"), 0u);
  EXPECT_EQ(extra(c, "dtype"), "torch.qint8");
}

TEST(CheckpointLayouts, NamespaceNumpyArraysAndScalars) {
  expect_all_tensors_match_python("namespace_numpy.pth");
  const Checkpoint c = read_checkpoint(fixture("namespace_numpy.pth"));
  EXPECT_EQ(c.numpy_arrays,
            (std::vector<std::string>{"scaler.means", "scaler.fortran", "scaler.wide"}));
  EXPECT_EQ(c.all_tensors["scaler.fortran"].strides().vec(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(c.file_dtypes.at("scaler.wide"), "uint16");
  EXPECT_EQ(extra(c, "args"), "Namespace(lr=0.1, device=device('cpu'), layers=[1, 2])");
  EXPECT_EQ(extra(c, "best"), "0.75");
  EXPECT_EQ(extra(c, "count"), "3");
  EXPECT_EQ(c.weights_prefix, "state_dict.");
  EXPECT_EQ(keys_of(c.tensors), kModelKeys);
}

TEST(CheckpointLayouts, WholePickledModuleIsReadAsItsStateDict) {
  for (const char* file : {"whole_module_legacy.pth", "whole_module_zip.pth"}) {
    expect_all_tensors_match_python(file);
    const Checkpoint c = read_checkpoint(fixture(file));
    EXPECT_EQ(c.tensors.keys(), c.all_tensors.keys()) << file;
    EXPECT_EQ(extra(c, "(top)"), "<nn.Module torch.nn.modules.container.Sequential>") << file;
    torch::nn::Sequential model(torch::nn::Linear(2, 3), torch::nn::ReLU(),
                                torch::nn::BatchNorm1d(3));
    EXPECT_NO_THROW(xfer::weights::load_into(*model, c.tensors)) << file;
  }
}

void expect_refused(const std::string& file, const std::string& needle) {
  try {
    read_checkpoint(fixture(file));
    ADD_FAILURE() << file << " was read; expected a refusal containing: " << needle;
  } catch (const xfer::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
}

TEST(CheckpointLayouts, TorchScriptArchiveIsRefusedAsSuch) {
  expect_refused("torchscript.pt", "a TorchScript archive (torch.jit.save), not a state_dict");
  expect_refused("torchscript.pt", "torch.jit.load(file).state_dict()");
}

TEST(CheckpointLayouts, UserClassIsRefusedByName) {
  expect_refused("user_class.pth",
                 "refused: the pickle needs global '__main__.Vocab', which is not a tensor type "
                 "(a user class: xfer reads only tensors, containers and a few safe types)");
}

TEST(CheckpointLayouts, IntegersAreNotLoadedAsFloatingPointWeights) {
  torch::nn::Linear linear(2, 2);
  xfer::weights::StateDict weights;
  weights.insert("weight", torch::ones({2, 2}, torch::kInt8));
  weights.insert("bias", torch::zeros({2}));
  try {
    xfer::weights::load_into(*linear, weights);
    ADD_FAILURE() << "int8 weights loaded into float32 parameters";
  } catch (const xfer::WeightMismatch& e) {
    EXPECT_NE(std::string(e.what()).find("wrong dtype for 'weight': got int8, expected float32"),
              std::string::npos)
        << e.what();
  }
  auto report =
      xfer::weights::load_into(*linear, weights, xfer::weights::LoadPolicy().strict(false));
  EXPECT_EQ(report.loaded, std::vector<std::string>{"bias"});
  ASSERT_EQ(report.wrong_dtype.size(), 1u);
  // A float counter into an int64 buffer (fp16 files of torch 1.x) still loads.
  torch::nn::BatchNorm1d bn(2);
  xfer::weights::StateDict half = xfer::weights::state_dict_of(*bn);
  half["num_batches_tracked"] = torch::tensor(7.0, torch::kFloat16);
  EXPECT_NO_THROW(xfer::weights::load_into(*bn, half));
}

TEST(CheckpointConvert, EverythingByDefaultTheModelWithModelOnly) {
  const auto dir = xfer::testing::temp_dir("convert-layouts");
  const Checkpoint c = read_checkpoint(fixture("tutorial.pth"));
  auto all = xfer::weights::convert_checkpoint(c, dir / "all.safetensors");
  EXPECT_EQ(all.written, 12u);
  EXPECT_EQ(all.not_tensors,
            (std::vector<std::string>{"epoch", "optimizer_state_dict.param_groups"}));
  EXPECT_EQ(read_checkpoint(dir / "all.safetensors").all_tensors.keys(), c.all_tensors.keys());

  auto model = xfer::weights::convert_checkpoint(c, dir / "model.pth",
                                                 xfer::weights::ConvertOptions().model_only(true));
  EXPECT_EQ(model.written, 7u);
  EXPECT_EQ(model.outside_weights.size(), 5u);
  EXPECT_EQ(read_checkpoint(dir / "model.pth").tensors.keys(), kModelKeys);
}

TEST(CheckpointConvert, QuantizationAndUnsignedDtypesSurviveSafetensors) {
  const auto dir = xfer::testing::temp_dir("convert-quantized");
  const Checkpoint c = read_checkpoint(fixture("quantized.pth"));
  auto report = xfer::weights::convert_checkpoint(c, dir / "q.safetensors");
  EXPECT_EQ(report.quantized, (std::vector<std::string>{"conv.weight", "fc.weight", "act"}));
  EXPECT_EQ(report.written, 6u);  // + fc.weight.q_scales, fc.weight.q_zero_points
  const Checkpoint back = read_checkpoint(dir / "q.safetensors");
  for (const auto& item : c.all_tensors) {
    EXPECT_TRUE(torch::equal(back.all_tensors[item.key()], item.value())) << item.key();
  }
  EXPECT_EQ(back.file_dtypes, c.file_dtypes);
  EXPECT_DOUBLE_EQ(back.quantized.at("conv.weight").scale, 0.05);
  EXPECT_EQ(back.quantized.at("conv.weight").zero_point, 3);
  EXPECT_TRUE(
      torch::equal(back.quantized.at("fc.weight").scales, c.quantized.at("fc.weight").scales));
  // Converting the converted file again gives the same file.
  auto again = xfer::weights::convert_checkpoint(back, dir / "again.safetensors");
  EXPECT_EQ(again.written, 6u);

  auto pth = xfer::weights::convert_checkpoint(c, dir / "q.pth");
  ASSERT_EQ(pth.without_their_dtype.size(), 3u);
  EXPECT_EQ(pth.without_their_dtype[0],
            (std::pair<std::string, std::string>{"conv.weight", "qint8"}));

  const Checkpoint numpy = read_checkpoint(fixture("namespace_numpy.pth"));
  xfer::weights::convert_checkpoint(numpy, dir / "n.safetensors");
  const Checkpoint numpy_back = read_checkpoint(dir / "n.safetensors");
  EXPECT_EQ(numpy_back.file_dtypes.at("scaler.wide"), "uint16");
  EXPECT_TRUE(
      torch::equal(numpy_back.all_tensors["scaler.wide"], numpy.all_tensors["scaler.wide"]));
}

TEST(CheckpointConvert, NothingToWriteIsAnInvalidArgument) {
  const auto dir = xfer::testing::temp_dir("convert-empty");
  const Checkpoint c = read_checkpoint(fixture("lightning.ckpt"));
  Checkpoint empty;
  empty.extras = {{"train", "[1, 2]"}};
  try {
    xfer::weights::convert_checkpoint(empty, dir / "out.safetensors");
    ADD_FAILURE() << "converted a checkpoint without tensors";
  } catch (const xfer::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("holds no tensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("train"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.safetensors"));
  EXPECT_THROW(xfer::weights::convert_checkpoint(c, dir / "out.bin"), xfer::InvalidArgument);
}

// Every prefix of the new fixtures is refused, every flipped byte read or refused: nothing else.
TEST(CheckpointLayouts, EveryPrefixAndByteFlipIsReadOrAFormatError) {
  for (const char* file : {"quantized.pth", "namespace_numpy.pth", "whole_module_zip.pth"}) {
    std::ifstream in(fixture(file), std::ios::binary);
    const std::string bytes(std::istreambuf_iterator<char>(in), {});
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_THROW(xfer::weights::read_checkpoint_bytes(bytes.substr(0, n), file),
                   xfer::FormatError)
          << file << " cut at " << n;
    }
    for (size_t i = 0; i < bytes.size(); ++i) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ 0x5A);
      try {
        xfer::weights::read_checkpoint_bytes(flipped, file);
      } catch (const xfer::FormatError&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << file << " flipped at " << i << ": " << e.what();
      }
    }
  }
}

}  // namespace
