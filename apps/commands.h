// apps/commands.h — how a subcommand of `faceforge` is added: one file apps/cmd_<name>.cpp with
//   static ff::app::Command reg("name", "one-line help", [](CLI::App& sub) { ...options...;
//     return [=] { ...run...; return 0; }; });
// The setup function declares the options on `sub` (CLI11) and returns the action to run when
// that subcommand is chosen. Errors are thrown as ff::Error; main prints them on one line and
// exits 1.
#pragma once
#include <CLI/CLI.hpp>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace ff::app {

using Action = std::function<int()>;
using Setup = std::function<Action(CLI::App& sub)>;

struct CommandDef {
  std::string name, help;
  Setup setup;
};
std::vector<CommandDef>& commands();

struct Command {
  Command(std::string name, std::string help, Setup setup) {
    commands().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

// Range checks with messages a person can read (CLI::PositiveNumber and CLI::NonNegativeNumber
// print DBL_MAX in full, 309 digits), applied to the text before CLI11 converts it: a negative
// value for an unsigned option (--seed -1) is refused here instead of wrapping to 2^64 - 1.
//   sub.add_option("--lr", o->lr, "...")->check(ff::app::positive());
inline CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& s) -> std::string {
        const char* b = s.c_str();
        char* end = nullptr;
        const double v = s.empty() || std::isspace(static_cast<unsigned char>(s[0])) ? NAN : std::strtod(b, &end);
        if (end != b + s.size() || !std::isfinite(v)) return "'" + s + "' is not a number";
        if (allow_zero ? v < 0 : v <= 0) return std::string("must be ") + (allow_zero ? ">= 0" : "> 0") + ", got " + s;
        return std::string();
      },
      allow_zero ? ">= 0" : "> 0", allow_zero ? "NONNEGATIVE" : "POSITIVE");
}
inline CLI::Validator positive() { return number_check(false); }
inline CLI::Validator non_negative() { return number_check(true); }

}  // namespace ff::app
