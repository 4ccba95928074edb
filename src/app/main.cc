// orderly: one binary, subcommands registered by the cmd_*.cc files (see command.h).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/command.h"

int main(int argc, char** argv) {
  CLI::App app{"orderly: an order management system for Alpaca that keeps every order in step "
               "with the broker"};
  app.require_subcommand(1);
  int exit_code = orderly::app::kExitOk;
  for (const auto& command : orderly::app::registered_commands()) command.add(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : orderly::app::kExitUsage;
  }
  return exit_code;
}
