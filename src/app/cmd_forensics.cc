// orderly forensics LOGFILE [--json] | --store URL: the incident report's table from evidence.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#include "app/command.h"
#include "app/config.h"
#include "app/forensics.h"
#include "store/open.h"
#include "store/store.h"

namespace orderly::app {
namespace {

struct Options {
  std::string logfile;
  std::string store_url;
  std::string config_path;
  bool json = false;
};

int print(const ForensicsReport& report, bool json) {
  if (json) {
    std::cout << render_json(report) << "\n";
  } else {
    std::cout << render_table(report);
  }
  return kExitOk;
}

int run_store(const Options& o) {
#if ORDERLY_HAVE_STORE
  Config config;
  if (!o.config_path.empty()) {
    auto loaded = load_config_file(o.config_path);
    if (!loaded.ok()) {
      std::cerr << "orderly forensics: " << loaded.status().message() << "\n";
      return kExitUsage;
    }
    config = *loaded;
  }
  apply_env(config);
  auto store = open_store(o.store_url, store_account(config));
  if (!store.ok()) {
    std::cerr << "orderly forensics: cannot open store: " << store.status().message() << "\n";
    return kExitUnavailable;
  }
  auto report = analyze_store(**store);
  if (!report.ok()) {
    std::cerr << "orderly forensics: cannot read the audit log: " << report.status().message()
              << "\n";
    return kExitUnavailable;
  }
  print(*report, o.json);
  // A row here is a self-inflicted 40310000: orderly retried against its own holding order.
  return report->rows.empty() ? kExitOk : kExitFailure;
#else
  (void)o;
  std::cerr << "orderly forensics --store: this build has no store\n";
  return kExitUnavailable;
#endif
}

int run(const Options& o) {
  if (!o.store_url.empty()) return run_store(o);
  if (o.logfile.empty()) {
    std::cerr << "orderly forensics: give a LOGFILE or --store URL\n";
    return kExitUsage;
  }
  std::ifstream in(o.logfile, std::ios::binary);
  if (!in) {
    std::cerr << "orderly forensics: cannot read '" << o.logfile << "'\n";
    return kExitUsage;
  }
  return print(analyze_log(in), o.json);
}

const bool registered = register_command({"forensics", 80, [](CLI::App& app, int& exit_code) {
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "forensics",
      "The incident table (submitted broker orders with insufficient-qty errors against them) "
      "from a log file, or from orderly's own audit log with --store");
  cmd->add_option("LOGFILE", options->logfile, "Python-logging style log (see DESIGN.md)");
  cmd->add_option("--store", options->store_url,
                  "scan this store's audit log instead (sqlite:PATH or postgresql://...)");
  cmd->add_option("--config", options->config_path, "config file (for the store's account)");
  cmd->add_flag("--json", options->json, "machine-readable output");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}});

}  // namespace
}  // namespace orderly::app
