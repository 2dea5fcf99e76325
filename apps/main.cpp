// apps/main.cpp — the `faceforge` command: parses the subcommand and its flags (CLI11), runs it,
// and turns any error into one line on stderr and exit code 1.
#include <algorithm>
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "engine/error.h"

namespace ff::app {
std::vector<CommandDef>& commands() {
  static std::vector<CommandDef> c;
  return c;
}
}  // namespace ff::app

int main(int argc, char** argv) {
  using namespace ff::app;
  CLI::App app{"faceforge — face landmarks, alignment and recognition on our own deep learning engine"};
  app.require_subcommand(1);
  std::sort(commands().begin(), commands().end(),
            [](const CommandDef& a, const CommandDef& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, Action>> actions;
  for (CommandDef& c : commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    actions.emplace_back(sub, c.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ff::Error& e) {
    std::cerr << "faceforge: error: " << e.what() << "\n";
    return 1;
  }
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const ff::Error& e) {
    std::cerr << "faceforge: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "faceforge: error: " << e.what() << "\n";
    return 1;
  }
  return 1;
}
