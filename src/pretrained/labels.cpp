#include "xfer/pretrained/labels.h"

#include "xfer/core/error.h"

namespace xfer::pretrained {

const std::vector<std::string>& imagenet_labels() {
  static const std::vector<std::string> names = {
#include "imagenet_labels.inc"
  };
  return names;
}

std::vector<std::string> label_names(const std::string& label_set) {
  if (label_set == "imagenet1k") return imagenet_labels();
  if (label_set == "imagenet1k+background") {
    std::vector<std::string> names{"background"};
    names.insert(names.end(), imagenet_labels().begin(), imagenet_labels().end());
    return names;
  }
  if (label_set == "cifar10") {
    return {"airplane", "automobile", "bird", "cat", "deer",
            "dog",      "frog",       "horse", "ship", "truck"};
  }
  throw InvalidArgument("unknown label set '" + label_set +
                        "'; known: imagenet1k, imagenet1k+background, cifar10");
}

}  // namespace xfer::pretrained
