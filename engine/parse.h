// engine/parse.h — strict reading of numbers from text that comes from a file or a command line
// (configuration strings, checkpoint metadata): the whole string must be the number, and the
// error names where the text came from. std::stoll / std::stod stop at the first character that
// is not part of a number ("12abc" reads as 12) and throw messages that name nothing
// ("stoll"); these do neither.
//
//   int64_t c = parse_int(v, "hourglass config 'channels=64,...': channels", 2, 4096);
//   double s = parse_number(meta.at("crop_scale"), path + ": metadata 'crop_scale'");
//
// Each throws ff::Error "<what>: '<text>' is not a number" (or "... is not an integer", or
// "<what> = <text> is out of range (allowed lo..hi)").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ff {

// The whole of `s` as a finite double (no leading or trailing spaces).
double parse_number(const std::string& s, const std::string& what);
// The same, and in [lo, hi].
double parse_number(const std::string& s, const std::string& what, double lo, double hi);
// The whole of `s` as a decimal integer in [lo, hi] ("12.0", "1e3" and "12abc" are refused).
int64_t parse_int(const std::string& s, const std::string& what, int64_t lo, int64_t hi);
// The same for an unsigned 64-bit value (a seed); "-1" is refused, not wrapped to 2^64 - 1.
uint64_t parse_uint64(const std::string& s, const std::string& what);

// The entries of a configuration string "key=value,key=value" of the network `kind` ("hourglass",
// ...), in order. Refuses an empty string, an entry that is not key=value and a key given twice
// (a second value must not silently win), naming the kind and the string.
std::vector<std::pair<std::string, std::string>> config_entries(const std::string& s, const std::string& kind);

}  // namespace ff
