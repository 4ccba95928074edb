// orderly config-keys [--markdown]: every configuration key with its type, default, bounds,
// secrecy and meaning, from the table of config_keys.h. --markdown prints the README's table
// (scripts/config-docs writes it there; a test fails when the README differs).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "app/command.h"
#include "app/config_keys.h"

namespace orderly::app {
namespace {

const bool registered = register_command({"config-keys", 85, [](CLI::App& app, int& exit_code) {
  auto markdown = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("config-keys",
                                 "Every orderly.toml key: type, default, bounds, secrecy, meaning");
  cmd->add_flag("--markdown", *markdown, "the README's table (GitHub markdown)");
  cmd->callback([markdown, &exit_code] {
    std::cout << (*markdown ? config_keys_markdown() : config_keys_text());
    exit_code = kExitOk;
  });
}});

}  // namespace
}  // namespace orderly::app
