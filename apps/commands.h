// apps/commands.h — how a subcommand of `faceforge` is added: one file apps/cmd_<name>.cpp with
//   static ff::app::Command reg("name", "one-line help", [](CLI::App& sub) { ...options...;
//     return [=] { ...run...; return 0; }; });
// The setup function declares the options on `sub` (CLI11) and returns the action to run when
// that subcommand is chosen. Errors are thrown as ff::Error; main prints them on one line and
// exits 1.
#pragma once
#include <CLI/CLI.hpp>
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

}  // namespace ff::app
