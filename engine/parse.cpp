// engine/parse.cpp — see parse.h.
#include "engine/parse.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "engine/error.h"

namespace ff {

namespace {
// Text as it appears in a message: quoted, cut after 64 characters.
std::string shown(const std::string& s) { return "'" + (s.size() > 64 ? s.substr(0, 64) + "..." : s) + "'"; }
bool starts_clean(const std::string& s) { return !s.empty() && !std::isspace(static_cast<unsigned char>(s[0])); }
}  // namespace

double parse_number(const std::string& s, const std::string& what) {
  const char* b = s.c_str();
  char* end = nullptr;
  double v = starts_clean(s) ? std::strtod(b, &end) : NAN;
  FF_CHECK(starts_clean(s) && end == b + s.size() && std::isfinite(v), what, ": ", shown(s), " is not a number");
  return v;
}

double parse_number(const std::string& s, const std::string& what, double lo, double hi) {
  double v = parse_number(s, what);
  FF_CHECK(v >= lo && v <= hi, what, " = ", shown(s), " is out of range (allowed ", lo, "..", hi, ")");
  return v;
}

int64_t parse_int(const std::string& s, const std::string& what, int64_t lo, int64_t hi) {
  const char* b = s.c_str();
  char* end = nullptr;
  errno = 0;
  long long v = starts_clean(s) ? std::strtoll(b, &end, 10) : 0;
  FF_CHECK(starts_clean(s) && end == b + s.size(), what, ": ", shown(s), " is not an integer");
  FF_CHECK(errno != ERANGE && v >= lo && v <= hi, what, " = ", shown(s), " is out of range (allowed ", lo, "..", hi,
           ")");
  return static_cast<int64_t>(v);
}

uint64_t parse_uint64(const std::string& s, const std::string& what) {
  const char* b = s.c_str();
  char* end = nullptr;
  errno = 0;
  const bool digits = !s.empty() && std::isdigit(static_cast<unsigned char>(s[0]));
  unsigned long long v = digits ? std::strtoull(b, &end, 10) : 0;
  FF_CHECK(digits && end == b + s.size(), what, ": ", shown(s), " is not a non-negative integer");
  FF_CHECK(errno != ERANGE, what, " = ", shown(s), " is out of range (allowed 0..18446744073709551615)");
  return static_cast<uint64_t>(v);
}

}  // namespace ff
