// The engine's one exception for input/output failures (a file cannot be
// opened, mapped or read). The Python module turns it, and only it, into
// OSError; bad content and bad arguments are std::invalid_argument.
#pragma once
#include <stdexcept>

namespace sparsewave {

struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace sparsewave
