// apps/main.cpp — the `faceforge` command: parses the subcommand and its flags (CLI11), runs it,
// and turns any error into one line on stderr and exit code 1. An unknown subcommand is named with
// the nearest valid one; a subcommand missing arguments names all of them, not only the first.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "engine/error.h"

namespace ff::app {
std::vector<CommandDef>& commands() {
  static std::vector<CommandDef> c;
  return c;
}
}  // namespace ff::app

namespace {

// Levenshtein distance: how many single-character edits turn a into b.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "subcommands: align, demo, ..." for the messages below.
std::string subcommand_list() {
  std::string all;
  for (const auto& c : ff::app::commands()) all += (all.empty() ? "" : ", ") + c.name;
  return "subcommands: " + all + " (faceforge SUBCOMMAND --help for each)";
}

// The message for a first argument that names no subcommand: the nearest one when it is close.
std::string unknown_subcommand_message(const std::string& word) {
  using ff::app::commands;
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : commands()) {
    size_t d = edit_distance(word, c.name);
    if (d < best_d) best_d = d, best = c.name;
  }
  std::string m = "faceforge: unknown subcommand '" + word + "'";
  if (best_d <= std::max<size_t>(2, word.size() / 3)) {
    m += "; did you mean '" + best + "'?";
  } else {
    // No close spelling: the subcommands that share its first word ("train-lmk": train-*).
    std::string stem = word.substr(0, word.find('-')), near;
    for (const auto& c : commands())
      if (stem.size() >= 3 && c.name.compare(0, stem.size(), stem) == 0) near += (near.empty() ? "" : ", ") + c.name;
    if (!near.empty()) m += "; did you mean one of: " + near + "?";
  }
  return m + "\n" + subcommand_list();
}

// Every required argument of the chosen subcommand that was not given, e.g. "PHOTO_A, PHOTO_B, --model".
std::string missing_arguments(CLI::App& app) {
  std::string missing;
  for (CLI::App* sub : app.get_subcommands())
    for (const CLI::Option* opt : sub->get_options())
      if (opt->get_required() && opt->count() == 0)
        missing += (missing.empty() ? "" : ", ") + opt->get_name(false, true);
  return missing;
}

}  // namespace

// An error message, for the terminal: it may quote bytes of a user's file, so control bytes
// other than newline and tab are printed as \xNN (a list file must not drive the terminal).
static std::string printable(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += ch;
    }
  }
  return out;
}

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
  if (argc < 2) {
    std::cerr << "faceforge: a subcommand is required\n" << subcommand_list() << "\n";
    return 2;
  }
  if (argv[1][0] != '-' &&
      std::none_of(commands().begin(), commands().end(), [&](const CommandDef& c) { return c.name == argv[1]; })) {
    std::cerr << unknown_subcommand_message(argv[1]) << "\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::RequiredError& e) {
    std::string missing = missing_arguments(app);
    if (missing.empty()) return app.exit(e);
    std::string name = app.get_subcommands().empty() ? "" : app.get_subcommands()[0]->get_name();
    std::cerr << "faceforge " << name << ": missing " << missing << " (faceforge " << name << " --help)\n";
    return 2;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ff::Error& e) {
    std::cerr << "faceforge: error: " << printable(e.what()) << "\n";
    return 1;
  }
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const ff::Error& e) {
    std::cerr << "faceforge: error: " << printable(e.what()) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "faceforge: error: " << printable(e.what()) << "\n";
    return 1;
  }
  return 1;
}
