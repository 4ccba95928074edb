#include "engine/command.h"

namespace orderly {

std::string_view to_string(CommandKind k) {
  switch (k) {
    case CommandKind::submit: return "submit";
    case CommandKind::get_order: return "get_order";
    case CommandKind::get_by_client_id: return "get_by_client_id";
    case CommandKind::cancel: return "cancel";
    case CommandKind::replace: return "replace";
    case CommandKind::list_orders: return "list_orders";
    case CommandKind::fill_activities: return "fill_activities";
    case CommandKind::list_positions: return "list_positions";
    case CommandKind::get_account: return "get_account";
  }
  return "?";
}

}  // namespace orderly
