#include "server/json_shapes.h"

#include "core/order_state.h"
#include "core/types.h"

namespace orderly::server {

AlertRow alert_row(const Alert& a) {
  return {.id = a.id,
          .severity = severity(a.kind),
          .kind = std::string(to_string(a.kind)),
          .subject = a.subject,
          .message = a.message,
          .raised_at = a.raised_at,
          .cleared_at = a.cleared_at,
          .active = a.active()};
}

namespace shapes {

json::value dec(const std::optional<Decimal>& d) {
  if (!d) return nullptr;
  return json::string(d->str());
}

json::value ts(const std::optional<Timestamp>& t) {
  if (!t || t->ns == 0) return nullptr;
  return json::string(format_rfc3339(*t));
}

void tag(json::object& o, std::string_view account) {
  if (!account.empty()) o["account"] = account;
}

namespace {

json::value opt_id(const std::optional<std::int64_t>& id) {
  if (!id) return nullptr;
  return *id;
}

json::value take_profit_json(const TradeSpec& s) {
  if (!s.has_take_profit()) return nullptr;
  json::object tp;
  if (s.take_profit.price) tp["limit_price"] = s.take_profit.price->str();
  if (s.take_profit.percent) tp["percent"] = s.take_profit.percent->str();
  return tp;
}

json::value stop_loss_json(const TradeSpec& s) {
  if (!s.stop_loss) return nullptr;
  json::object sl;
  if (s.stop_loss->price) sl["stop_price"] = s.stop_loss->price->str();
  if (s.stop_loss->percent) sl["percent"] = s.stop_loss->percent->str();
  if (s.stop_loss->trail_percent) sl["trail_percent"] = s.stop_loss->trail_percent->str();
  if (s.stop_loss->trail_price) sl["trail_price"] = s.stop_loss->trail_price->str();
  return sl;
}

}  // namespace

json::object order_json(const Order& o, std::string_view account) {
  json::object out{
      {"id", o.id},
      {"trade_id", o.trade_id},
      {"role", to_string(o.role)},
      {"symbol", o.symbol},
      {"side", to_string(o.side)},
      {"type", to_string(o.type)},
      {"tif", to_string(o.tif)},
      {"order_class", to_string(o.order_class)},
      {"qty", o.notional ? json::value(nullptr) : json::value(o.qty.str())},
      {"notional", dec(o.notional)},
      {"limit_price", dec(o.limit_price)},
      {"stop_price", dec(o.stop_price)},
      {"trail_price", dec(o.trail_price)},
      {"trail_percent", dec(o.trail_percent)},
      {"extended_hours", o.extended_hours},
      {"state", to_string(o.state)},
      {"client_order_id", o.client_order_id},
      {"broker_order_id",
       o.broker_order_id ? json::value(*o.broker_order_id) : json::value(nullptr)},
      {"filled_qty", o.filled_qty.str()},
      {"filled_avg_price", dec(o.filled_avg_price)},
      {"attempts", o.attempts},
      {"next_attempt_at", ts(o.next_attempt_at)},
      {"last_error", o.last_error},
      {"parent_order_id", opt_id(o.parent_order_id)},
      {"replaces_order_id", opt_id(o.replaces_order_id)},
      {"created_at", ts(o.created_at)},
      {"updated_at", ts(o.updated_at)},
  };
  tag(out, account);
  return out;
}

json::object trade_json(const TradeRecord& r, std::string_view account) {
  const Trade& t = r.trade;
  const TradeSpec& s = t.spec;
  json::object entry{{"type", to_string(s.entry_type)}};
  if (s.entry_limit_price) entry["limit_price"] = s.entry_limit_price->str();
  if (s.entry_stop_price) entry["stop_price"] = s.entry_stop_price->str();
  json::array order_list;
  for (const auto& o : r.orders) order_list.push_back(order_json(o));
  json::object out{
      {"id", t.id},
      {"symbol", s.symbol},
      {"side", to_string(s.side)},
      {"qty", s.notional ? json::value(nullptr) : json::value(s.qty.str())},
      {"notional", dec(s.notional)},
      {"entry", std::move(entry)},
      {"take_profit", take_profit_json(s)},
      {"stop_loss", stop_loss_json(s)},
      {"exits", to_string(s.exits)},
      {"tif", to_string(s.tif)},
      {"extended_hours", s.extended_hours},
      {"state", to_string(t.state)},
      {"client_trade_id",
       s.client_trade_id.empty() ? json::value(nullptr) : json::value(s.client_trade_id)},
      {"note", t.note},
      {"created_at", ts(t.created_at)},
      {"updated_at", ts(t.updated_at)},
      {"orders", std::move(order_list)},
  };
  // A crypto pair's increment, kept since the trade opened: the prices orderly resolves for it
  // later (a percent exit at the fill, a stop_limit's limit) are multiples of it. Absent when
  // none is kept (an equity; a pair's trade opened before orderly kept it: priced to the cent).
  if (s.price_increment) out["price_increment"] = s.price_increment->str();
  tag(out, account);
  return out;
}

json::object event_json(const OrderEvent& e) {
  return {
      {"seq", e.seq},
      {"order_id", e.order_id},
      {"at", ts(e.at)},
      {"source", to_string(e.source)},
      {"from", e.from ? json::value(to_string(*e.from)) : json::value(nullptr)},
      {"to", to_string(e.to)},
      {"filled_qty", e.filled_qty.str()},
      {"note", e.note},
      {"payload", e.payload},
  };
}

json::object feed_event_json(const OrderEvent& e, std::string_view account) {
  json::object o = event_json(e);
  o.erase("payload");
  if (!account.empty()) {
    o["account"] = account;
    o["account_seq"] = e.seq;
  }
  return o;
}

json::object audit_json(const OrderAudit& a, std::string_view account) {
  json::array events;
  for (const auto& e : a.events) events.push_back(event_json(e));
  json::array fills;
  for (const auto& f : a.fills) {
    fills.push_back(json::object{{"execution_id", f.execution_id},
                                 {"qty", f.qty.str()},
                                 {"price", f.price.str()},
                                 {"at", ts(f.at)}});
  }
  json::object out{{"order", order_json(a.order, account)},
                   {"events", std::move(events)},
                   {"fills", std::move(fills)}};
  tag(out, account);
  return out;
}

json::object alert_json(const AlertRow& a, std::string_view account) {
  json::object out;
  if (a.severity) out["severity"] = to_string(*a.severity);
  out["id"] = opt_id(a.id);
  out["kind"] = a.kind;
  out["subject"] = a.subject;
  out["message"] = a.message;
  out["raised_at"] = ts(a.raised_at);
  out["cleared_at"] = ts(a.cleared_at);
  out["active"] = a.active;
  tag(out, account);
  return out;
}

json::object position_json(const PositionView& p, std::string_view account) {
  json::object out{{"symbol", p.symbol},
                   {"local_qty", p.local_qty.str()},
                   {"broker_qty", dec(p.broker_qty)},
                   {"drift", p.drift.str()},
                   {"mismatch", p.mismatch},
                   {"avg_entry_price", dec(p.avg_entry_price)},
                   {"current_price", dec(p.current_price)},
                   {"unrealized_pl", dec(p.unrealized_pl)},
                   {"priced_at", ts(p.priced_at)},
                   {"held_by_trades", p.held_by_trades.str()},
                   {"covered_by_exits", p.covered_by_exits.str()}};
  tag(out, account);
  return out;
}

json::object health_json(const HealthReport& r) {
  const Health& h = r.health;
  json::array reasons;
  for (const auto& reason : h.reasons) reasons.push_back(json::string(reason));
  json::object o{
      {"status", to_string(h.status)},
      {"reasons", std::move(reasons)},
      {"unprotected_positions", h.unprotected_positions},
      {"stream_expected", h.stream_expected},
      {"broker_reachable", h.broker_reachable},
      {"credentials_refused", h.credentials_refused},
      {"snapshot_age_ms",
       h.snapshot_age_ms ? json::value(*h.snapshot_age_ms) : json::value(nullptr)},
      {"stream_connected", h.stream_connected},
      {"last_stream_event_at", ts(h.last_stream_event_at)},
      {"last_sync_at", ts(h.last_sync_at)},
      {"last_sync_age_ms",
       h.last_sync_at ? json::value(r.now.ms_since(*h.last_sync_at)) : json::value(nullptr)},
      {"sync_lag_ms", h.sync_lag_ms},
      {"store_ok", h.store_ok},
      {"store_error", h.store_error},
      // Unreachable is not ok: calls held back for the broker's return never reach the engine,
      // so its last answer alone said "ok" (and the CLI and dashboard "broker ok: yes") for as
      // long as the broker was away.
      {"broker_ok", h.broker_ok && h.broker_reachable},
      {"open_orders", h.open_orders},
      {"rest_calls_last_minute", h.rest_calls_last_minute},
      {"rest_budget_per_minute", h.rest_budget_per_minute},
      {"now", ts(r.now)},
  };
  const auto& m = r.market;
  o["market"] = m ? json::value(json::object{{"is_open", m->is_open},
                                             {"next_open", ts(m->next_open)},
                                             {"next_close", ts(m->next_close)},
                                             {"as_of", ts(m->as_of)}})
                  : json::value(nullptr);
  return o;
}

}  // namespace shapes
}  // namespace orderly::server
