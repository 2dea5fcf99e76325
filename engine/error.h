// engine/error.h — the one exception type faceforge throws, and the check macros.
//
// Every op validates its arguments once, at its public entry point, and throws ff::Error with a
// message that names the op and the shapes involved. The command-line tools catch ff::Error at
// the top, print its message on one line and exit non-zero.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ff {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
// Builds a message from any streamable parts: ff::detail::cat("conv2d: x ", shape, " ...").
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace ff

// FF_CHECK(cond, parts...): throw ff::Error(parts...) when cond is false.
#define FF_CHECK(cond, ...)                                  \
  do {                                                       \
    if (!(cond)) throw ::ff::Error(::ff::detail::cat(__VA_ARGS__)); \
  } while (0)

// FF_FAIL(parts...): throw unconditionally.
#define FF_FAIL(...) throw ::ff::Error(::ff::detail::cat(__VA_ARGS__))
