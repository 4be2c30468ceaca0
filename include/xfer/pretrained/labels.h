#pragma once
// Class names of the label sets that pretrained weights come with.

#include <string>
#include <vector>

namespace xfer::pretrained {

/// The 1000 ImageNet-1k class names, class 0 first, as torchvision 0.14 names them ("tench",
/// "goldfish", ...).
const std::vector<std::string>& imagenet_labels();

/// The names of a label set, index = the head's output: "imagenet1k" (1000 names),
/// "imagenet1k+background" (1001: "background", then the ImageNet names, as the TFLite
/// MobileNets' outputs), "cifar10" (10: "airplane" ... "truck").
/// Throws InvalidArgument naming the known sets for any other name.
std::vector<std::string> label_names(const std::string& label_set);

}  // namespace xfer::pretrained
