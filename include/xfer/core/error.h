#pragma once
// The one small exception hierarchy of xfer. Only apps/xfer/main.cpp catches these; each kind maps
// to its own exit code there.

#include <stdexcept>
#include <string>

namespace xfer {

/// Base of every error xfer throws on purpose. The message names the subject, what was expected,
/// what was found and where.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A value given by the caller (a name, an option, a shape) is not one xfer accepts.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A file or network resource could not be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

/// The bytes of a file do not follow the format they claim to have.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// Weights do not fit a model: missing, unexpected or wrongly shaped tensors.
class WeightMismatch : public Error {
 public:
  using Error::Error;
};

/// A process of a distributed job could not reach the others, or one of them failed.
class DistributedError : public Error {
 public:
  using Error::Error;
};

}  // namespace xfer
