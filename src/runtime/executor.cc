#include "runtime/executor.h"

namespace orderly {

CommandResult execute(Broker& broker, const Command& c) {
  CommandResult r;
  auto take_order = [&](BrokerResult<BrokerOrder> res) {
    r.unreadable = std::move(res.unreadable());
    if (res.ok()) r.order = std::move(res.value()); else r.error = res.error();
  };
  switch (c.kind) {
    case CommandKind::submit: take_order(broker.submit_order(c.submit)); break;
    case CommandKind::get_order: take_order(broker.get_order(c.broker_order_id)); break;
    case CommandKind::get_by_client_id:
      take_order(broker.get_order_by_client_id(c.client_order_id));
      break;
    case CommandKind::replace:
      take_order(broker.replace_order(c.broker_order_id, c.replace));
      break;
    case CommandKind::cancel: {
      auto res = broker.cancel_order(c.broker_order_id);
      if (!res.ok()) r.error = res.error();
      break;
    }
    case CommandKind::list_orders: {
      auto res = broker.list_orders(c.list);
      r.unreadable = std::move(res.unreadable());
      if (res.ok()) r.orders = std::move(res.value()); else r.error = res.error();
      break;
    }
    case CommandKind::fill_activities: {
      auto res = broker.fill_activities(c.activities);
      r.unreadable = std::move(res.unreadable());
      if (res.ok()) r.activities = std::move(res.value()); else r.error = res.error();
      break;
    }
    case CommandKind::list_positions: {
      auto res = broker.list_positions();
      r.unreadable = std::move(res.unreadable());
      if (res.ok()) r.positions = std::move(res.value()); else r.error = res.error();
      break;
    }
    case CommandKind::get_account: {
      auto res = broker.get_account();
      if (res.ok()) r.account = std::move(res.value()); else r.error = res.error();
      break;
    }
  }
  r.stated_rate_limit = broker.stated_rate_limit();
  return r;
}

}  // namespace orderly
