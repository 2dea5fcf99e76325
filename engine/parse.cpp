// engine/parse.cpp — see parse.h.
#include "engine/parse.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

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

std::vector<std::pair<std::string, std::string>> config_entries(const std::string& s, const std::string& kind) {
  FF_CHECK(!s.empty(), kind, " config: empty configuration string");
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  std::istringstream is(s);
  for (std::string kv; std::getline(is, kv, ',');) {
    const size_t eq = kv.find('=');
    FF_CHECK(eq != std::string::npos && eq > 0, kind, " config: entry '", kv, "' of '", s, "' is not key=value");
    std::string k = kv.substr(0, eq);
    FF_CHECK(seen.insert(k).second, kind, " config '", s, "': ", k, " is given twice");
    out.emplace_back(std::move(k), kv.substr(eq + 1));
  }
  return out;
}

}  // namespace ff
