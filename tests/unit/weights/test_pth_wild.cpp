// The 29 real checkpoints of ../shared/data/pth-wild against what Python's torch.load (torch 1.13)
// gives for each (its reference.jsonl): every tensor under the same key path with the same dtype,
// shape, strides and bytes (SHA-256), quantization parameters, shared storages; and the files
// torch's allow-list refused are refused by xfer too, naming the global.

#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/download/digest.h"
#include "xfer/models/registry.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/load.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using xfer::weights::Checkpoint;

fs::path wild_dir() { return xfer::testing::shared_dir() / "data" / "pth-wild"; }

std::vector<json> reference() {
  std::ifstream in(wild_dir() / "reference.jsonl");
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

// SHA-256 of the tensor's elements in row-major order, as numpy's tobytes() gives them.
std::string sha256_of(const torch::Tensor& tensor) {
  const torch::Tensor c = tensor.contiguous();
  xfer::download::Sha256 hash;
  hash.update(c.data_ptr(), c.nbytes());
  return hash.hex();
}

std::string format_of(const std::string& reference_format) {
  if (reference_format == "zip") return "pth-zip";
  if (reference_format == "legacy") return "pth-legacy";
  return reference_format;
}

void expect_refused(const json& ref, const fs::path& file) {
  try {
    xfer::weights::read_checkpoint(file);
    ADD_FAILURE() << "read a file torch's allow-list refused: " << ref["error"];
  } catch (const xfer::FormatError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(file.string()), std::string::npos) << what;
    if (ref["format"] == "torchscript-zip") {
      EXPECT_NE(what.find("a TorchScript archive (torch.jit.save), not a state_dict"),
                std::string::npos)
          << what;
      return;
    }
    EXPECT_NE(what.find("refused: the pickle needs global '"), std::string::npos) << what;
    bool named = false;
    for (const auto& global : ref["globals_outside_allowlist"]) {
      named = named || what.find("'" + global.get<std::string>() + "'") != std::string::npos;
    }
    EXPECT_TRUE(named) << what << "\nnames none of " << ref["globals_outside_allowlist"];
  }
}

void expect_tensor(const Checkpoint& c, const json& t, bool check_stride) {
  const std::string key = t["key"];
  SCOPED_TRACE(key);
  const torch::Tensor* tensor = c.all_tensors.find(key);
  ASSERT_NE(tensor, nullptr) << "missing";
  auto file_dtype = c.file_dtypes.find(key);
  EXPECT_EQ(file_dtype != c.file_dtypes.end() ? file_dtype->second
                                              : xfer::weights::dtype_name(tensor->scalar_type()),
            t["dtype"].get<std::string>());
  EXPECT_EQ(tensor->sizes().vec(), t["shape"].get<std::vector<int64_t>>());
  if (check_stride && t.contains("stride")) {
    EXPECT_EQ(tensor->strides().vec(), t["stride"].get<std::vector<int64_t>>());
  }
  EXPECT_EQ(sha256_of(*tensor), t["sha256"].get<std::string>());
  if (t.contains("qscheme")) {
    ASSERT_EQ(c.quantized.count(key), 1u);
    const auto& q = c.quantized.at(key);
    EXPECT_EQ(q.scheme, t["qscheme"].get<std::string>());
    EXPECT_EQ(q.scale, t["q_scale"].get<double>());
    EXPECT_EQ(q.zero_point, t["q_zero_point"].get<int64_t>());
  } else {
    EXPECT_EQ(c.quantized.count(key), 0u);
  }
}

TEST(PthWild, EveryFileReadsAsTorchLoadDoesOrIsRefused) {
  XFER_REQUIRE_SHARED(wild_dir() / "reference.jsonl");
  const auto records = reference();
  ASSERT_EQ(records.size(), 29u);
  int read = 0, refused = 0;
  for (const auto& ref : records) {
    const fs::path file = wild_dir() / "files" / ref["file"].get<std::string>();
    SCOPED_TRACE(file.filename().string());
    if (!ref["error"].is_null()) {
      expect_refused(ref, file);
      ++refused;
      continue;
    }
    Checkpoint c;
    try {
      c = xfer::weights::read_checkpoint(file);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not read: " << e.what();
      continue;
    }
    ++read;
    EXPECT_EQ(c.format, format_of(ref["format"]));
    const bool pickle = ref["format"] != "safetensors";
    std::vector<json> expected = ref["tensors"];
    if (ref.contains("numpy_arrays")) {
      for (const auto& array : ref["numpy_arrays"]) {
        expected.push_back(array);
        EXPECT_NE(std::find(c.numpy_arrays.begin(), c.numpy_arrays.end(), array["key"]),
                  c.numpy_arrays.end())
            << array["key"];
      }
    }
    EXPECT_EQ(c.all_tensors.size(), expected.size());
    for (const auto& t : expected) expect_tensor(c, t, pickle);
    if (pickle) {
      // In the order torch.load gives them (dict order, state_dict order).
      std::vector<std::string> order;
      for (const auto& t : ref["tensors"]) order.push_back(t["key"]);
      std::vector<std::string> ours;
      for (const auto& item : c.all_tensors) {
        if (std::find(c.numpy_arrays.begin(), c.numpy_arrays.end(), item.key()) ==
            c.numpy_arrays.end()) {
          ours.push_back(item.key());
        }
      }
      EXPECT_EQ(ours, order);
    }
    // Views of one storage (cuDNN LSTM weights, legacy views, one tensor under several keys)
    // still share it.
    if (ref.contains("shared_storage_groups")) {
      for (const auto& group : ref["shared_storage_groups"]) {
        const auto& first = c.all_tensors[group[0].get<std::string>()];
        for (const auto& key : group) {
          EXPECT_TRUE(c.all_tensors[key.get<std::string>()].is_alias_of(first)) << key;
        }
      }
    }
  }
  EXPECT_EQ(read, 26);
  EXPECT_EQ(refused, 3);
}

Checkpoint read_wild(const std::string& name) {
  return xfer::weights::read_checkpoint(wild_dir() / "files" / name);
}

// Where the model's weights are found in the layouts of the real files.
TEST(PthWild, ModelWeightsAreUnwrappedFromTheirLayouts) {
  XFER_REQUIRE_SHARED(wild_dir() / "reference.jsonl");
  struct Case {
    const char* file;
    const char* prefix;
    size_t tensors;
  };
  for (const Case& c : std::vector<Case>{
           {"kejeon__in_dev_RN20__checkpoint_ckpt.pth", "net.module.", 116},
           {"huggingface__candle__candle-core_tests_test_with_key.pt", "model_state_dict.", 1},
           {"LanceKnight__MolKGNN__training_molkgnn_last.ckpt", "state_dict.", 130},
           {"dgaines2__cgcnn__pre-trained_semi-metal-classification.pth.tar", "state_dict.", 46},
           {"chemprop__chemprop__tests_data_example_model_v1_regression_mol.pt", "state_dict.", 9},
           {"amiltonwong__pytorch_practice__net.pkl", "", 4},
           {"pytorch__captum__tutorials_models_cifar_torchvision.pt", "", 10},
           // Two networks and an Adam state: both networks, not the optimizer.
           {"Aidana0704__Maze-Solver__model2.pt", "", 12},
           {"LanceKnight__MolKGNN__data_split_9999_seed2.pt", "", 0},
       }) {
    const Checkpoint checkpoint = read_wild(c.file);
    EXPECT_EQ(checkpoint.weights_prefix, c.prefix) << c.file;
    EXPECT_EQ(checkpoint.tensors.size(), c.tensors) << c.file;
  }
  const Checkpoint split = read_wild("LanceKnight__MolKGNN__data_split_9999_seed2.pt");
  ASSERT_EQ(split.extras.size(), 3u);
  EXPECT_EQ(split.extras[0].first, "train");
}

// The CIFAR ResNet-20 checkpoint of kejeon/in_dev_RN20 ({'net': DataParallel state_dict}) loads
// into xfer's resnet20, whose keys are those of the akamaster checkpoints.
TEST(PthWild, DataParallelResNet20LoadsIntoTheZooModel) {
  XFER_REQUIRE_SHARED(wild_dir() / "reference.jsonl");
  const Checkpoint c = read_wild("kejeon__in_dev_RN20__checkpoint_ckpt.pth");
  auto model = xfer::models::create_model("resnet20", xfer::models::ModelOptions().num_classes(10));
  const auto report = xfer::weights::load_into(*model, c.tensors);
  EXPECT_EQ(report.loaded.size(), 116u) << report.summary();
}

}  // namespace
