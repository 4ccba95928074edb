// orderly demo [--json]: the incident replayed on the embedded default (see app/demo.h).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "app/command.h"
#include "app/demo.h"

namespace orderly::app {
namespace {

int run(bool json) {
  // With --json, stdout carries the JSON document only; progress goes to stderr.
  std::ostream& out = json ? std::cerr : std::cout;
  auto result = run_demo([&](const std::string& line) { out << "demo: " << line << std::endl; });
  if (!result.ok()) {
    std::cerr << "orderly demo: " << result.status().message() << "\n";
    return kExitFailure;
  }
  const DemoResult& r = *result;
  bool clean = r.insufficient_qty_errors == 0 && r.duplicate_submissions == 0 &&
               r.orders_out_of_sync == 0 && r.position_mismatches == 0;
  if (json) {
    std::cout << demo_json(r) << "\n";
    return clean ? kExitOk : kExitFailure;
  }
  std::cout << "\nPer symbol:\n" << r.per_symbol
            << "\nForensic table from orderly's own audit log (submitted orders with "
               "insufficient-qty errors against them):\n"
            << render_table(r.forensics) << "\nTotals:\n"
            << "  symbols                  " << r.symbols << "\n"
            << "  submissions              " << r.submissions << "\n"
            << "  retries                  " << r.retries << "\n"
            << "  40310000 errors          " << r.insufficient_qty_errors << "\n"
            << "  duplicate submissions    " << r.duplicate_submissions << "\n"
            << "  orders out of sync       " << r.orders_out_of_sync << "\n"
            << "  position mismatches      " << r.position_mismatches << "\n"
            << "  fills detected           stream " << r.fills_stream << ", poll " << r.fills_poll
            << "\n"
            << "  detection time, max      " << r.detection_ms_max << " ms (virtual)\n\n"
            << (clean ? "Result: every take-profit fill was found although its stream event was "
                        "lost; no order was retried against its own shares.\n"
                      : "Result: PROBLEMS FOUND (see above).\n");
  return clean ? kExitOk : kExitFailure;
}

const bool registered = register_command({"demo", 1, [](CLI::App& app, int& exit_code) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "demo", "Replay the incident on the embedded default (in-process simulator + SQLite): "
              "no keys, no servers");
  cmd->add_flag("--json", *json, "print the result as one JSON document");
  cmd->callback([json, &exit_code] { exit_code = run(*json); });
}});

}  // namespace
}  // namespace orderly::app
