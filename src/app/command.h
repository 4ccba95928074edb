#pragma once
// Subcommands register themselves at start-up, so adding one never touches main.cc:
//
//   static const bool registered = orderly::app::register_command(
//       {"sim", 20, [](CLI::App& app, int& exit_code) { ... app.add_subcommand(...) ... }});
//
// `exit_code` is what the process returns once the chosen subcommand's callback has run.

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace orderly::app {

// Exit codes that mean something to scripts.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;       // the command ran and found a problem
inline constexpr int kExitUsage = 2;         // bad arguments or configuration
inline constexpr int kExitUnavailable = 3;   // daemon, broker or store unreachable

struct CommandRegistration {
  std::string name;
  int order = 100;  // position in --help
  std::function<void(CLI::App& app, int& exit_code)> add;
};

bool register_command(CommandRegistration registration);
const std::vector<CommandRegistration>& registered_commands();

}  // namespace orderly::app
