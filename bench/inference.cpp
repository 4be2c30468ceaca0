// Backbone forward throughput of one xfer model in one configuration, as one JSON line:
//   bench_inference MODEL SIZE LAYOUT PRECISION BATCH ITERATIONS THREADS [fused|eager]
// It runs what xfer's feature extraction, evaluation, predict and `xfer forward` run: the
// program's allocator setting and infer::FrozenBackbone, fused (the default) or eager (--no-fuse).
// images_per_s is the rate of the timed batches; first_batch_s the warm-up batch, which traces,
// folds and fuses the graph and creates oneDNN's primitives (what each new batch shape costs).
// bench/run_inference.py runs it alternately with bench/inference_torchvision.py (the same
// measurement in Python torchvision) and writes the table in docs/BENCHMARKS.md.
//   bench_inference --export-onnx FILE MODEL SIZE
// writes the same model (seed 0) as ONNX with a `features` output, for
// bench/run_export_inference.py, which times it in ONNX Runtime beside this program.

#include "xfer/core/allocator.h"
#include "xfer/core/runtime.h"
#include "xfer/deploy/onnx.h"
#include "xfer/infer/frozen.h"
#include "xfer/models/registry.h"

#include <torch/torch.h>

#include <chrono>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--export-onnx") {
    torch::manual_seed(0);
    auto model = xfer::models::create_model(argv[3]);
    xfer::deploy::OnnxOptions options;
    options.input_size = std::stoll(argv[4]);
    options.features = true;
    xfer::deploy::write_onnx(*model, options, argv[2]);
    return 0;
  }
  if (argc != 8 && argc != 9) {
    std::cerr << "usage: bench_inference MODEL SIZE LAYOUT PRECISION BATCH ITERATIONS THREADS "
                 "[fused|eager]\n"
                 "       bench_inference --export-onnx FILE MODEL SIZE\n";
    return 2;
  }
  xfer::keep_freed_memory();  // as the xfer program does at start (core/allocator.h)
  const std::string name = argv[1];
  const int64_t size = std::stoll(argv[2]);
  const xfer::Layout layout = xfer::parse_layout(argv[3]);
  const xfer::Precision precision = xfer::parse_precision(argv[4]);
  const int64_t batch = std::stoll(argv[5]);
  const int iterations = std::stoi(argv[6]);
  const int threads = xfer::set_threads(std::stoi(argv[7]));
  const std::string path = argc == 9 ? argv[8] : "fused";
  if (path != "fused" && path != "eager") {
    std::cerr << "bench_inference: path: expected fused or eager, got '" << path << "'\n";
    return 2;
  }

  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  auto model = xfer::models::create_model(name);
  model->eval();
  xfer::set_layout(*model, layout);
  const auto images = xfer::to_layout(torch::randn({batch, 3, size, size}), layout);
  xfer::infer::FrozenBackbone backbone(*model, {precision, path == "fused", {}});
  const auto first = std::chrono::steady_clock::now();
  backbone.features(images);  // warm-up: the graph traced and folded, oneDNN primitives made
  const double first_batch_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count();
  if (!backbone.fallback().empty()) {
    std::cerr << backbone.fallback() << "\n";
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) backbone.features(images);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "{\"side\": \"xfer\", \"model\": \"" << name << "\", \"size\": " << size
            << ", \"layout\": \"" << xfer::to_string(layout) << "\", \"precision\": \""
            << xfer::to_string(precision) << "\", \"path\": \"" << path
            << "\", \"threads\": " << threads
            << ", \"images_per_s\": " << batch * iterations / seconds
            << ", \"first_batch_s\": " << first_batch_seconds << "}\n";
  return 0;
}
