#pragma once
// The fuzzing entry points: one plain function per parser of untrusted bytes. libFuzzer's main
// (libfuzzer_main.cpp, clang only) calls one of them per input; the CTest regression test
// (test_fuzz_regressions.cpp, built with the normal compiler) calls them over the seed corpora and
// the committed reproducers in tests/fuzz/regressions/<target>/. docs/fuzzing.md explains both.
//
// Each entry parses `data` and then checks what the parser promises about its result; it returns
// true when the parser produced a valid result, false when it threw a FormatError naming the
// input (a refused file). Any other outcome is a finding, reported by letting an exception escape
// (std::logic_error for a broken promise, whatever the parser threw otherwise) or by a sanitizer.

#include <torch/nn/module.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xfer::fuzz {

/// `read_pth_bytes` (zip and legacy `.pth`, through the restricted unpickler and the zip reader);
/// every tensor of a successful read is copied whole when it has at most 2^22 elements, so a view
/// outside its storage is caught by AddressSanitizer.
bool fuzz_pth(const uint8_t* data, size_t size);

/// `read_safetensors_bytes`; tensors are checked and copied as in fuzz_pth.
bool fuzz_safetensors(const uint8_t* data, size_t size);

/// `read_tflite_bytes`, then `dequantize` of every constant, `tflite_model_shape` and
/// `tflite_state_dict` into tflite_import_module(). A WeightMismatch from the importer is an
/// expected outcome too; true only when the import succeeded.
bool fuzz_tflite(const uint8_t* data, size_t size);

/// `parse_cifar_batch`: the first byte chooses CIFAR-10 (even) or CIFAR-100 (odd), the rest is the
/// batch file.
bool fuzz_cifar(const uint8_t* data, size_t size);

/// `gunzip_if_gzip` then `parse_idx`: the first byte chooses the images magic (even) or the labels
/// magic (odd), the rest is the file, gzipped or not.
bool fuzz_idx(const uint8_t* data, size_t size);

/// `transforms::decode_image` on the bytes of an image file, the function the image-folder dataset
/// and `xfer classify` decode every file with (JPEG and PNG by libjpeg-turbo and libpng, BMP,
/// WebP, TIFF and CMYK JPEG by OpenCV), with `max_pixels` 2^22 (entries.cpp says why). An
/// accepted image must be one of those five formats by its first bytes, RGB, non-empty, within
/// 2^22 pixels and kMaxImageSide, with height × width × 3 pixel bytes.
bool fuzz_image(const uint8_t* data, size_t size);

/// `parse_cifar_class_names`: the first byte chooses batches.meta.txt (10 names, 0 mod 3),
/// fine_label_names.txt (100, 1 mod 3) or coarse_label_names.txt (20, 2 mod 3), the rest is the
/// file. An accepted file gives exactly that many names, each non-empty, without a line break or
/// surrounding white space, found in the text in order.
bool fuzz_cifar_names(const uint8_t* data, size_t size);

/// The module fuzz_tflite imports into (built once): a stem Conv2d 3→8 stride 2, a depthwise
/// Conv2d 8→8, a pointwise Conv2d 8→16, each followed by a BatchNorm2d, and a Linear 16→5 head.
const torch::nn::Module& tflite_import_module();

/// An entry point by name, for the seed tool and the regression test.
struct FuzzTarget {
  /// "pth", "safetensors", "tflite", "cifar", "idx", "image" or "cifar_names"; the fuzzer
  /// binary is fuzz_<name>.
  const char* name;
  /// The entry point.
  bool (*run)(const uint8_t* data, size_t size);
};

/// Every target, in the order above.
const std::vector<FuzzTarget>& fuzz_targets();

/// One input of a seed corpus.
struct Seed {
  /// File name in the corpus folder.
  std::string name;
  /// The input bytes, as the target's entry point takes them (selector byte included).
  std::string bytes;
};

/// The seed corpus of `target`: the committed weight fixtures of `fixtures_dir`
/// (tests/fixtures/weights) for "pth" and "safetensors", small files generated in code for every
/// target (TFLite graphs by tests/unit/pretrained/tflite_builder, CIFAR records, IDX files plain
/// and gzipped, images by cv::imencode, libpng and libjpeg, class-name files). Throws InvalidArgument for an unknown target, IoError when a fixture cannot be
/// read.
std::vector<Seed> seed_corpus(const std::string& target, const std::string& fixtures_dir);

}  // namespace xfer::fuzz
