#pragma once
// The incident report's table, rebuilt from evidence (DESIGN.md "Forensics log format").
//
// From a platform log: which broker orders we submitted successfully and yet kept getting
// "insufficient qty" (40310000) errors against, because the shares were held by those very
// orders (`related_orders`). From orderly's own audit log (the store): the same pattern, which
// orderly must never produce (every such error must name an order that is not ours).

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace orderly {
class Store;
}

namespace orderly::app {

struct ForensicsRow {
  std::string broker_order_id;
  std::string symbol;
  std::string submitted;    // "YYYY-MM-DD HH:MM:SS,mmm", as in the log
  std::string first_error;  // same format
  std::optional<std::string> last_error;  // nullopt when there is only one error
  int error_count = 0;
  int status_updates = 0;
};

struct ForensicsReport {
  std::vector<ForensicsRow> rows;  // by submission time
  int total_errors = 0;            // every error line understood, whoever it names
  int total_symbols = 0;           // distinct symbols of those errors
  int skipped_lines = 0;           // non-blank lines that could not be understood
};

// Reads a Python-logging style log. Never fails: what it cannot read it counts as skipped.
ForensicsReport analyze_log(std::istream& in);

// The same table from orderly's own audit log: error events with code 40310000 whose body's
// `related_orders` name one of our own orders (found by broker id). Rows must be none; totals
// count every 40310000 error recorded.
StatusOr<ForensicsReport> analyze_store(Store& store);

// The report's markdown table ("| Broker Order ID | Symbol | Submitted | ..."), times as
// HH:MM:SS, followed by the totals and the skipped-line count.
std::string render_table(const ForensicsReport& report);
// {"rows":[...],"totals":{"errors":N,"symbols":N},"skipped_lines":N}
std::string render_json(const ForensicsReport& report);

}  // namespace orderly::app
