#pragma once
// The simulator's fault plan (DESIGN.md "Fault plan"): which stream events to drop, duplicate,
// reorder or delay, when to cut the stream, and which HTTP calls answer an error, answer slowly
// or lose their response after being applied. Parsing and matching only; the exchange rolls the
// dice with its own seeded Rng.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace orderly::sim {

enum class FaultOn { stream, http };
enum class FaultAction { drop, duplicate, reorder, delay, disconnect, status, slow, lose_response };

std::string_view to_string(FaultAction a);

struct FaultRule {
  FaultOn on = FaultOn::stream;
  FaultAction action = FaultAction::drop;
  double p = 1.0;  // a probability, not money: double is fine here
  // Optional filters; a rule applies only when every present filter matches.
  std::optional<std::string> event;   // stream: trade_updates event ("fill", "new", ...)
  std::optional<std::string> side;    // stream: order side
  std::optional<std::string> symbol;  // stream and http (http: the order's or the path's symbol)
  std::optional<std::string> route;   // http: "POST /v2/orders" or "GET /v2/orders/{id}"
  std::int64_t delay_ms = 0;          // delay, slow
  std::int64_t every_s = 0;           // disconnect
  int status = 0;                     // status
};

struct FaultPlan {
  std::vector<FaultRule> rules;
};

inline constexpr std::size_t kFaultRulesMax = 64;

// Parses {"rules":[...]}. Unknown keys, unknown actions, an action on the wrong channel, p outside
// [0,1], missing delay_ms/every_s/status and filters that do not apply to the channel are errors.
// "action":"duplicate|reorder" is shorthand for one rule per action.
std::variant<FaultPlan, std::string> parse_fault_plan(std::string_view json);

// A rule's route matches either the route template ("GET /v2/orders/{id}") or the concrete
// method and path without the query ("GET /v2/orders/61e6...").
bool route_matches(std::string_view rule_route, std::string_view route_template,
                   std::string_view concrete_route);

}  // namespace orderly::sim
