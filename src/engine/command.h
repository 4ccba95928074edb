#pragma once
// A command the engine emits (a broker request a runtime executes) and its answer: what the
// engine, its outbox and its rate budget, the runtimes and the executor share, apart from the
// engine's own API (engine.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "core/order.h"

namespace orderly {

using CommandId = std::int64_t;

enum class CommandKind : std::uint8_t {
  submit,
  get_order,         // by broker id
  get_by_client_id,  // by client_order_id
  cancel,
  replace,
  list_orders,       // one page of GET /v2/orders
  fill_activities,   // one page of account activities (FILL)
  list_positions,
  get_account,
};
std::string_view to_string(CommandKind k);

// Lower value = served first when the rate budget is short (principle 9: protective work goes
// first). `protective`: cancels, exits and flattens, what keeps a filled position covered;
// `lookup`: in-flight checks and the positions read an exit waits for; `catch_up`: the fill
// catch-up, one per poll interval, so that the sync never pauses; `entry`: new entries, which
// leave room in the budget for the exits their fills will need and for the catch-ups
// (release.h).
enum class CommandPriority : std::uint8_t {
  protective = 0,
  lookup = 1,
  catch_up = 2,
  entry = 3,
  sweep = 4,
};

struct Command {
  CommandId id = 0;
  CommandKind kind = CommandKind::submit;
  CommandPriority priority = CommandPriority::protective;
  OrderId order_id = 0;  // the local order concerned (0 for bulk reads)
  OrderRequest submit;                // submit
  std::string broker_order_id;        // get_order, cancel, replace
  std::string client_order_id;        // get_by_client_id
  ReplaceRequest replace;             // replace
  ListOrdersQuery list;               // list_orders
  ActivityQuery activities;           // fill_activities
};

// A command's answer. Exactly one of the value fields is meaningful for the command's kind
// unless `error` is set.
struct CommandResult {
  std::optional<BrokerError> error;
  std::optional<BrokerOrder> order;          // submit, get_order, get_by_client_id, replace
  std::vector<BrokerOrder> orders;           // list_orders
  ActivityPage activities;                   // fill_activities
  std::vector<BrokerPosition> positions;     // list_positions
  std::optional<Account> account;            // get_account
  std::vector<UnreadableItem> unreadable;    // elements of the answer skipped as unreadable
  std::optional<int> stated_rate_limit;      // the broker's per-minute limit, as last stated
};

}  // namespace orderly
