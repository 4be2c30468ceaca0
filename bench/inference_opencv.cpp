// OpenCV DNN (Debian's 4.6) timing the backbone of an ONNX file xfer exported, for
// bench/run_export_inference.py, which runs it beside bench_inference and ONNX Runtime.
//
//   bench_inference_opencv FILE SIZE BATCH ITERATIONS THREADS
//
// Only the `features` output is asked for (as bench_inference times model->features). One warm-up
// pass, then ITERATIONS timed passes on the same random batch; prints one JSON line with
// images_per_s. Exits 1 with OpenCV's message when it cannot read or run the graph.

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: bench_inference_opencv FILE SIZE BATCH ITERATIONS THREADS\n";
    return 2;
  }
  const std::string file = argv[1];
  const int size = std::stoi(argv[2]);
  const int batch = std::stoi(argv[3]);
  const int iterations = std::stoi(argv[4]);
  const int threads = std::stoi(argv[5]);
  try {
    cv::setNumThreads(threads);
    cv::dnn::Net net = cv::dnn::readNetFromONNX(file);
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    const int dims[] = {batch, 3, size, size};
    cv::Mat images(4, dims, CV_32F);
    cv::randu(images, -1.0f, 1.0f);
    net.setInput(images, "input");
    net.forward("features");  // warm-up: layer set-up and buffers
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) net.forward("features");
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "{\"side\": \"opencv\", \"file\": \"" << file << "\", \"size\": " << size
              << ", \"threads\": " << cv::getNumThreads()
              << ", \"images_per_s\": " << batch * iterations / seconds << "}\n";
  } catch (const std::exception& error) {
    std::cerr << "bench_inference_opencv: " << file << ": " << error.what() << "\n";
    return 1;
  }
  return 0;
}
