#pragma once
// The resampling filter of a resize, named as torchvision's InterpolationMode. A header of its
// own, without LibTorch, shared by the transforms that resize and the models' input
// specifications that say which filter their weights were evaluated with.

#include <string>

namespace xfer {

/// Pillow's antialiased bilinear filter (triangle, support 1) or its bicubic one (Keys' cubic
/// convolution with a = -0.5, support 2), each widened by the downscale factor.
enum class Interpolation { kBilinear, kBicubic };

/// "bilinear" or "bicubic".
const char* interpolation_name(Interpolation interpolation);

/// The Interpolation named `name` ("bilinear" or "bicubic"). Throws InvalidArgument naming
/// `field`, the accepted names and `name` otherwise.
Interpolation parse_interpolation(const std::string& field, const std::string& name);

}  // namespace xfer
