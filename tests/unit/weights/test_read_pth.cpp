// Reading torch.save files, zip and legacy, written by tools/make_weight_fixtures.py with
// Python's torch; and refusing what must not load.

#include "expected_values.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/pth.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <iterator>

namespace {

using namespace std::string_literals;
using xfer::testing::fixtures_dir;
using xfer::weights::Checkpoint;
using xfer::weights::read_checkpoint;
using xfer::weights::read_checkpoint_bytes;

std::filesystem::path fixture(const std::string& name) { return fixtures_dir() / "weights" / name; }

std::string bytes_of(const std::string& name) {
  std::ifstream in(fixture(name), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string extra(const Checkpoint& c, const std::string& name) {
  for (const auto& [k, v] : c.extras) {
    if (k == name) return v;
  }
  return "<absent>";
}

// Every tensor of `file` matches what Python saved: names in order, dtype, shape and values.
void expect_matches_python(const std::string& file) {
  SCOPED_TRACE(file);
  Checkpoint c = read_checkpoint(fixture(file));
  auto expected = xfer::testing::expected_tensors(file);
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(c.tensors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& e = expected[i];
    SCOPED_TRACE(e.name);
    ASSERT_EQ(c.tensors[i].key(), e.name);
    const torch::Tensor& t = c.tensors[i].value();
    EXPECT_EQ(t.scalar_type(), xfer::testing::dtype_named(e.dtype));
    EXPECT_EQ(t.sizes().vec(), e.shape);
    torch::Tensor values = t.to(torch::kFloat64).contiguous().reshape(-1);
    ASSERT_EQ(values.numel(), static_cast<int64_t>(e.values.size()));
    for (size_t k = 0; k < e.values.size(); ++k) {
      EXPECT_EQ(values[static_cast<int64_t>(k)].item<double>(), e.values[k]) << "element " << k;
    }
  }
}

TEST(ReadPth, ZipFormatEveryDtype) {
  expect_matches_python("dtypes_zip.pth");
  EXPECT_EQ(read_checkpoint(fixture("dtypes_zip.pth")).format, "pth-zip");
}

TEST(ReadPth, LegacyFormatEveryDtype) {
  expect_matches_python("dtypes_legacy.pth");
  EXPECT_EQ(read_checkpoint(fixture("dtypes_legacy.pth")).format, "pth-legacy");
}

TEST(ReadPth, PickleProtocol4) { expect_matches_python("dtypes_protocol4.pth"); }

TEST(ReadPth, PlainDict) { expect_matches_python("plain_dict.pth"); }

TEST(ReadPth, ModuleStateDictWithBuffers) { expect_matches_python("linear_bn.pth"); }

TEST(ReadPth, Parameter) { expect_matches_python("parameter.pth"); }

TEST(ReadPth, ViewsShareOneStorageInBothFormats) {
  for (const char* file : {"views_zip.pth", "views_legacy.pth"}) {
    expect_matches_python(file);
    Checkpoint c = read_checkpoint(fixture(file));
    const torch::Tensor& base = c.tensors["base"];
    EXPECT_TRUE(c.tensors["row"].is_alias_of(base)) << file;
    EXPECT_TRUE(c.tensors["transposed"].is_alias_of(base)) << file;
    EXPECT_EQ(c.tensors["transposed"].strides().vec(), (std::vector<int64_t>{1, 4})) << file;
    EXPECT_EQ(c.tensors["sliced"].storage_offset(), 4) << file;
  }
}

TEST(ReadPth, NestedCheckpointUnwrapsStateDictStripsModulePrefixAndKeepsExtras) {
  for (const char* file : {"nested_zip.pth", "nested_legacy.pth"}) {
    expect_matches_python(file);
    Checkpoint c = read_checkpoint(fixture(file));
    EXPECT_EQ(extra(c, "epoch"), "3") << file;
    EXPECT_EQ(extra(c, "best_prec1"), "91.5") << file;
    EXPECT_EQ(extra(c, "arch"), "'linear_bn'") << file;
    EXPECT_EQ(extra(c, "state_dict"), "<absent>") << file;
  }
}

TEST(ReadPth, ModelKeyCheckpoint) {
  expect_matches_python("model_key.pth");
  Checkpoint c = read_checkpoint(fixture("model_key.pth"));
  EXPECT_EQ(extra(c, "epoch"), "7");
  EXPECT_EQ(extra(c, "history"), "[0.5, 0.25]");
}

TEST(ReadPth, ContentNotExtensionDecidesTheFormat) {
  auto dir = xfer::testing::temp_dir("weights-sniff");
  std::filesystem::copy_file(fixture("dtypes_legacy.pth"), dir / "weights.safetensors");
  EXPECT_EQ(read_checkpoint(dir / "weights.safetensors").format, "pth-legacy");
}

TEST(ReadPth, RefusesOsSystemWithoutRunningIt) {
  const std::filesystem::path marker = "/tmp/xfer_weights_fixture_pwned";
  for (const char* file : {"evil_zip.pth", "evil_legacy.pth"}) {
    std::filesystem::remove(marker);
    try {
      read_checkpoint(fixture(file));
      ADD_FAILURE() << file << " loaded";
    } catch (const xfer::FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(
                    "refused: the pickle needs global 'posix.system', which is not a tensor type "
                    "(a function that runs commands or touches the system"),
                std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(marker)) << file;
  }
}

TEST(ReadPth, TruncatedFilesNameFileAndOffset) {
  for (const char* file : {"truncated_zip.pth", "truncated_legacy.pth"}) {
    try {
      read_checkpoint(fixture(file));
      ADD_FAILURE() << file << " loaded";
    } catch (const xfer::FormatError& e) {
      std::string what = e.what();
      EXPECT_NE(what.find(file), std::string::npos) << what;
      EXPECT_NE(what.find("byte "), std::string::npos) << what;
    }
  }
}

// What a fuzzer does, exhaustively on small inputs: every prefix of every fixture is either
// read or refused with a FormatError, never another exception or a crash.
TEST(ReadPth, EveryPrefixAndByteFlipIsReadOrAFormatError) {
  for (const char* file : {"dtypes_zip.pth", "dtypes_legacy.pth", "views_legacy.pth",
                           "nested_legacy.pth", "dtypes_protocol4.pth"}) {
    std::string bytes = bytes_of(file);
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_THROW(read_checkpoint_bytes(bytes.substr(0, n), file), xfer::FormatError)
          << file << " cut at " << n;
    }
    for (size_t i = 0; i < bytes.size(); ++i) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ 0x5A);
      try {
        read_checkpoint_bytes(flipped, file);
      } catch (const xfer::FormatError&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << file << " flipped at " << i << ": " << e.what();
      }
    }
  }
}

// A legacy header (magic, protocol 1001, sys_info) followed by `object`, then an empty key list.
std::string legacy_file(const std::string& object) {
  std::string magic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  std::string protocol("\x80\x02M\xe9\x03.", 6);
  std::string sys_info("\x80\x02}.", 4);
  std::string keys("\x80\x02].", 4);
  return magic + protocol + sys_info + object + keys;
}

void expect_format_error(const std::string& bytes, const std::string& needle) {
  try {
    read_checkpoint_bytes(bytes, "crafted.pth");
    ADD_FAILURE() << "loaded; expected an error containing: " << needle;
  } catch (const xfer::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("crafted.pth"), std::string::npos) << e.what();
  }
}

TEST(ReadPth, RefusesEveryGlobalOutsideTheAllowList) {
  expect_format_error(legacy_file("\x80\x02" "ctorch.storage\n_load_from_bytes\n."),
                      "refused: the pickle needs global 'torch.storage._load_from_bytes', which is "
                      "not a tensor type (a torch function or class xfer does not interpret");
  expect_format_error(legacy_file("\x80\x02" "cbuiltins\neval\n."),
                      "global 'builtins.eval', which is not a tensor type (a built-in function "
                      "that can run code");
  // STACK_GLOBAL (protocol 4) is checked the same way.
  expect_format_error(legacy_file("\x80\x04\x8c\x02os\x8c\x06system\x93."s),
                      "refused: the pickle needs global 'os.system'");
  expect_format_error(legacy_file("\x80\x02" "ccollections\nCounter\n)R."),
                      "global 'collections.Counter', which is not a tensor type (a Python "
                      "container xfer does not read");
  expect_format_error(legacy_file("\x80\x02" "cmymodel\nNet\n)\x81}b."),
                      "global 'mymodel.Net', which is not a tensor type (a user class: xfer reads "
                      "only tensors, containers and a few safe types)");
}

TEST(ReadPth, RefusalNamesEveryRefusedGlobalAndTheFirstOffset) {
  // {'a': utils.Vocab(), 'b': os.system('x')}: read to the end, then refused once for both.
  expect_format_error(
      legacy_file("\x80\x02}(X\x01\x00\x00\x00" "a" "cutils\nVocab\n)\x81"
                  "X\x01\x00\x00\x00" "b" "cos\nsystem\nX\x01\x00\x00\x00" "x\x85Ru."s),
      "byte 35: refused: the pickle needs global 'utils.Vocab', which is not a tensor type (a "
      "user class: xfer reads only tensors, containers and a few safe types); it also needs "
      "'os.system'");
  // A refused global followed by opcodes xfer does not know: the refusal is still what is said.
  expect_format_error(legacy_file("\x80\x02" "cutils\nVocab\n)\x81\xff."s),
                      "refused: the pickle needs global 'utils.Vocab'");
}

TEST(ReadPth, RefusesCallingAStorageTypeAndObjectConstruction) {
  expect_format_error(legacy_file("\x80\x02" "ctorch\nFloatStorage\n)R."),
                      "global 'torch.FloatStorage' is not callable");
  expect_format_error(legacy_file("\x80\x02" "ccollections\nOrderedDict\n)\x81."),
                      "refusing pickle NEWOBJ of 'collections.OrderedDict'");
}

TEST(ReadPth, MalformedPicklesAreFormatErrorsWithTheOffset) {
  // The object pickle starts at byte 25.
  expect_format_error(legacy_file("\x80\x02" "a."), "byte 27: pickle stack underflow");
  expect_format_error(legacy_file("\x80\x02h\x07."), "memo entry 7 is not defined");
  expect_format_error(legacy_file("\x80\x02\xff."), "unsupported pickle opcode 0xff");
  expect_format_error(legacy_file("\x80\x02N."), "expected a dict (a state_dict or a checkpoint)");
  expect_format_error(legacy_file("\x80\x02X\xff\xff\xff\x7f"), "truncated");
  expect_format_error(legacy_file("\x80\x02" "}K\x01u."), "pickle MARK missing");
}

TEST(ReadPth, TensorViewOutsideItsStorageIsRefused) {
  // {'w': _rebuild_tensor_v2(storage(FloatStorage, '0', numel 2), 0, (3,), (1,), False, None)}
  std::string object =
      "\x80\x02}X\x01\x00\x00\x00w"
      "ctorch._utils\n_rebuild_tensor_v2\n"
      "((X\x07\x00\x00\x00storage"
      "ctorch\nFloatStorage\n"
      "X\x01\x00\x00\x00" "0"
      "X\x03\x00\x00\x00" "cpu"
      "K\x02tQ"
      "K\x00K\x03\x85K\x01\x85\x89NtRs."s;
  expect_format_error(legacy_file(object), "reaches element 2 of a storage of 2 elements");
}

TEST(ReadPth, UnknownFormatAndMissingFile) {
  expect_format_error("hello world, not weights", "unknown weight format");
  expect_format_error("", "unknown weight format");
  EXPECT_THROW(read_checkpoint("/nonexistent/xfer/weights.pth"), xfer::IoError);
  try {
    read_checkpoint("/nonexistent/xfer/weights.pth");
  } catch (const xfer::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/xfer/weights.pth"), std::string::npos);
  }
}

TEST(ReadPth, PlainPickleIsNotATorchFile) {
  expect_format_error("\x80\x02}.", "not a torch.save file");
}

}  // namespace
