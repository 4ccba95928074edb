#include "server/api.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>
#include <sstream>

#include "core/order_state.h"
#include "core/types.h"
#include "engine/crypto.h"
#include "server/asset_check.h"

namespace orderly::server {
namespace json = boost::json;

namespace {

constexpr int kMaxListLimit = 1000;

HttpResponse json_response(int status, const json::value& v) {
  return json_body(status, json::serialize(v));
}

HttpResponse error(int status, std::string message) {
  return json_response(status, json::object{{"error", std::move(message)}});
}

json::value dec(const std::optional<Decimal>& d) {
  if (!d) return nullptr;
  return json::string(d->str());
}
json::value ts(const std::optional<Timestamp>& t) {
  if (!t || t->ns == 0) return nullptr;
  return json::string(format_rfc3339(*t));
}
json::value opt_id(const std::optional<std::int64_t>& id) {
  if (!id) return nullptr;
  return *id;
}

json::object order_json(const Order& o) {
  return {
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
      {"broker_order_id", o.broker_order_id ? json::value(*o.broker_order_id) : json::value(nullptr)},
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
}

json::object trade_json(const Trade& t, const std::vector<Order>& orders) {
  const TradeSpec& s = t.spec;
  json::object entry{{"type", to_string(s.entry_type)}};
  if (s.entry_limit_price) entry["limit_price"] = s.entry_limit_price->str();
  if (s.entry_stop_price) entry["stop_price"] = s.entry_stop_price->str();
  json::value take_profit = nullptr;
  if (s.has_take_profit()) {
    json::object tp;
    if (s.take_profit.price) tp["limit_price"] = s.take_profit.price->str();
    if (s.take_profit.percent) tp["percent"] = s.take_profit.percent->str();
    take_profit = std::move(tp);
  }
  json::value stop_loss = nullptr;
  if (s.stop_loss) {
    json::object sl;
    if (s.stop_loss->price) sl["stop_price"] = s.stop_loss->price->str();
    if (s.stop_loss->percent) sl["percent"] = s.stop_loss->percent->str();
    if (s.stop_loss->trail_percent) sl["trail_percent"] = s.stop_loss->trail_percent->str();
    if (s.stop_loss->trail_price) sl["trail_price"] = s.stop_loss->trail_price->str();
    stop_loss = std::move(sl);
  }
  json::array order_list;
  for (const auto& o : orders) order_list.push_back(order_json(o));
  return {
      {"id", t.id},
      {"symbol", s.symbol},
      {"side", to_string(s.side)},
      {"qty", s.notional ? json::value(nullptr) : json::value(s.qty.str())},
      {"notional", dec(s.notional)},
      {"entry", std::move(entry)},
      {"take_profit", std::move(take_profit)},
      {"stop_loss", std::move(stop_loss)},
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

json::object alert_json(const Alert& a) {
  return {
      {"severity", to_string(severity(a.kind))},
      {"id", a.id},
      {"kind", to_string(a.kind)},
      {"subject", a.subject},
      {"message", a.message},
      {"raised_at", ts(a.raised_at)},
      {"cleared_at", ts(a.cleared_at)},
      {"active", a.active()},
  };
}

// The PostgreSQL store refuses every write once the account's lease is lost (expired, or taken
// over by another process): "lease ... is not held", "refused by lease fencing".
bool lease_lost(const Status& s) {
  return s.code() == Status::Code::conflict && s.message().find("lease") != std::string::npos;
}

int status_for(const Status& s) {
  // Not the request's conflict (409 says "change your request"): the account cannot trade here.
  if (lease_lost(s)) return 503;
  switch (s.code()) {
    case Status::Code::invalid_argument: return 400;
    case Status::Code::not_found: return 404;
    case Status::Code::conflict: return 409;
    // The store cannot record anything now (a full or failing disk, a damaged file): not a bug
    // of ours to report as 500, nor the request's fault; the account cannot trade until it heals.
    case Status::Code::io_error:
    case Status::Code::disk_full:
    case Status::Code::read_only:
    case Status::Code::corruption:
    case Status::Code::unavailable:
    case Status::Code::busy: return 503;
    default: return 500;
  }
}

// An engine refusal as the API answers it; a lost lease says so first.
HttpResponse refusal(const Status& s) {
  if (lease_lost(s)) {
    return error(503, "the account cannot trade: its lease is lost (another process may own it "
                      "now; this one stands by): " + s.message());
  }
  return error(status_for(s), s.message());
}

// ---- POST /api/trades body -------------------------------------------------------------------

struct BodyError {
  std::string message;
};

class BodyReader {
 public:
  explicit BodyReader(const json::object& o, std::string where) : o_(o), where_(std::move(where)) {}

  void allow(std::initializer_list<std::string_view> keys) {
    for (const auto& [k, v] : o_) {
      if (std::find(keys.begin(), keys.end(), std::string_view(k)) == keys.end()) {
        throw BodyError{"unknown field '" + where_ + std::string(k) + "'"};
      }
    }
  }
  bool has(std::string_view key) const {
    const auto* v = o_.if_contains(key);
    return v != nullptr && !v->is_null();
  }
  std::string string(std::string_view key) const {
    const auto* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) throw BodyError{"missing field '" + name(key) + "'"};
    if (!v->is_string()) throw BodyError{"field '" + name(key) + "' must be a string"};
    return std::string(v->as_string());
  }
  Decimal decimal(std::string_view key) const {
    std::string text = string_for_decimal(key);
    auto d = Decimal::parse(text);
    if (!d) throw BodyError{"field '" + name(key) + "' is not a decimal: '" + text + "'"};
    return *d;
  }
  const json::object& object(std::string_view key) const {
    const auto* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) throw BodyError{"missing field '" + name(key) + "'"};
    if (!v->is_object()) throw BodyError{"field '" + name(key) + "' must be an object"};
    return v->as_object();
  }
  std::string name(std::string_view key) const { return where_ + std::string(key); }

 private:
  std::string string_for_decimal(std::string_view key) const {
    const auto* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) throw BodyError{"missing field '" + name(key) + "'"};
    // Decimals travel as strings, as Alpaca sends them: a JSON number may already be rounded.
    if (!v->is_string()) {
      throw BodyError{"field '" + name(key) + "' must be a decimal string such as \"37\""};
    }
    return std::string(v->as_string());
  }

  const json::object& o_;
  std::string where_;
};

PriceTarget read_take_profit(const BodyReader& parent) {
  BodyReader r(parent.object("take_profit"), "take_profit.");
  r.allow({"limit_price", "percent"});
  PriceTarget t;
  if (r.has("limit_price")) t.price = r.decimal("limit_price");
  if (r.has("percent")) t.percent = r.decimal("percent");
  if (!t.valid()) throw BodyError{"field 'take_profit' needs exactly one of 'limit_price' or 'percent'"};
  return t;
}

PriceTarget read_stop_loss(const BodyReader& parent) {
  BodyReader r(parent.object("stop_loss"), "stop_loss.");
  r.allow({"stop_price", "percent", "trail_percent", "trail_price"});
  PriceTarget t;
  if (r.has("stop_price")) t.price = r.decimal("stop_price");
  if (r.has("percent")) t.percent = r.decimal("percent");
  if (r.has("trail_percent")) t.trail_percent = r.decimal("trail_percent");
  if (r.has("trail_price")) t.trail_price = r.decimal("trail_price");
  if (!t.valid()) {
    throw BodyError{"field 'stop_loss' needs exactly one of 'stop_price', 'percent', "
                    "'trail_percent' or 'trail_price'"};
  }
  return t;
}

// entry: {"type": market|limit|stop|stop_limit, "limit_price", "stop_price"}; which prices a
// type needs is validate()'s to say, with the rest of the rules.
void read_entry(const BodyReader& parent, TradeSpec& spec) {
  BodyReader e(parent.object("entry"), "entry.");
  e.allow({"type", "limit_price", "stop_price"});
  const std::string type = e.string("type");
  const auto t = parse_order_type(type);
  if (!t || *t == OrderType::trailing_stop) {
    throw BodyError{"field 'entry.type' must be \"market\", \"limit\", \"stop\" or "
                    "\"stop_limit\""};
  }
  spec.entry_type = *t;
  if (e.has("limit_price")) spec.entry_limit_price = e.decimal("limit_price");
  if (e.has("stop_price")) spec.entry_stop_price = e.decimal("stop_price");
}

bool read_bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return false;
  if (!v->is_bool()) throw BodyError{"field '" + std::string(key) + "' must be true or false"};
  return v->as_bool();
}

constexpr std::size_t kMaxClientTradeId = 64;

// 1-64 of [A-Za-z0-9_.:-]: safe in URLs, logs and SQL text, long enough for a UUID or a
// strategy's own "name:date:seq".
constexpr const char* kBadClientTradeId =
    "client_trade_id must be 1-64 characters of A-Z a-z 0-9 _ . : -";
bool valid_client_trade_id(std::string_view key) {
  if (key.empty() || key.size() > kMaxClientTradeId) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '-';
  });
}

// What a trade is, without its key: a retry must ask for the same thing to get the same trade.
bool same_target(const std::optional<PriceTarget>& a, const std::optional<PriceTarget>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->price == b->price && a->percent == b->percent &&
                a->trail_percent == b->trail_percent && a->trail_price == b->trail_price);
}
bool same_trade(const TradeSpec& a, const TradeSpec& b) {
  return a.symbol == b.symbol && a.side == b.side && a.qty == b.qty && a.notional == b.notional &&
         a.entry_type == b.entry_type && a.entry_limit_price == b.entry_limit_price &&
         a.entry_stop_price == b.entry_stop_price && a.tif == b.tif &&
         a.extended_hours == b.extended_hours && same_target(a.take_profit, b.take_profit) &&
         same_target(a.stop_loss, b.stop_loss) && a.exits == b.exits;
}

TradeSpec parse_trade_spec(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) throw BodyError{"body is not valid JSON: " + ec.message()};
  if (!v.is_object()) throw BodyError{"body must be a JSON object"};
  BodyReader r(v.as_object(), "");
  r.allow({"symbol", "side", "qty", "notional", "entry", "take_profit", "stop_loss", "exits",
           "tif", "extended_hours", "client_trade_id", "allow_wide"});
  TradeSpec spec;
  if (r.has("client_trade_id")) {
    spec.client_trade_id = r.string("client_trade_id");
    if (!valid_client_trade_id(spec.client_trade_id)) throw BodyError{kBadClientTradeId};
  }
  spec.symbol = r.string("symbol");
  if (r.has("side")) {
    auto side = parse_side(r.string("side"));
    if (!side) throw BodyError{"field 'side' must be \"buy\" or \"sell\""};
    spec.side = *side;
  }
  if (r.has("qty") && r.has("notional")) throw BodyError{"give 'qty' or 'notional', not both"};
  if (r.has("notional")) {
    spec.notional = r.decimal("notional");
  } else {
    spec.qty = r.decimal("qty");
  }
  if (r.has("entry")) read_entry(r, spec);
  if (r.has("take_profit")) spec.take_profit = read_take_profit(r);
  if (r.has("stop_loss")) spec.stop_loss = read_stop_loss(r);
  if (r.has("exits")) {
    auto mode = parse_exit_mode(r.string("exits"));
    if (!mode) throw BodyError{"field 'exits' must be \"emulated\", \"native\" or \"none\""};
    spec.exits = *mode;
  }
  spec.extended_hours = read_bool(v.as_object(), "extended_hours");
  // Without a tif: day where Alpaca takes nothing else (fractional, notional, extended
  // hours), else gtc so that a resting limit entry outlives the session. Crypto (a pair such as
  // BTC/USD) takes only gtc or ioc and has no session: gtc.
  const bool crypto = spec.symbol.find('/') != std::string::npos;
  spec.tif = (spec.fractional() || spec.extended_hours) && !crypto ? TimeInForce::day
                                                                   : TimeInForce::gtc;
  if (r.has("tif")) {
    auto tif = parse_time_in_force(r.string("tif"));
    if (!tif) throw BodyError{"field 'tif' must be one of day, gtc, ioc, fok, opg, cls"};
    spec.tif = *tif;
  }
  spec.allow_wide = read_bool(v.as_object(), "allow_wide");
  return spec;
}

// PATCH /api/trades/ID: {"take_profit": {...} | null, "stop_loss": {...} | null,
// "allow_wide": bool}. An object replaces that exit's target (the shapes of POST); null removes
// the exit; an absent key keeps it.
ExitChange parse_exit_change(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) throw BodyError{"body is not valid JSON: " + ec.message()};
  if (!v.is_object()) throw BodyError{"body must be a JSON object"};
  const json::object& o = v.as_object();
  BodyReader r(o, "");
  r.allow({"take_profit", "stop_loss", "allow_wide"});
  if (!o.contains("take_profit") && !o.contains("stop_loss")) {
    throw BodyError{"give 'take_profit' and/or 'stop_loss' (an object to change it, null to "
                    "remove it)"};
  }
  ExitChange c;
  c.remove_take_profit = o.contains("take_profit") && !r.has("take_profit");
  c.remove_stop_loss = o.contains("stop_loss") && !r.has("stop_loss");
  if (r.has("take_profit")) c.take_profit = read_take_profit(r);
  if (r.has("stop_loss")) c.stop_loss = read_stop_loss(r);
  c.allow_wide = read_bool(o, "allow_wide");
  return c;
}

// ---- request helpers -------------------------------------------------------------------------

struct Target {
  std::vector<std::string> segments;  // "/api/orders/7/audit" -> api, orders, 7, audit
  std::map<std::string, std::string> query;
};

std::optional<Target> parse_target(const std::string& target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  Target t;
  for (auto seg : url->segments()) {
    if (!seg.empty()) t.segments.push_back(std::string(seg));
  }
  for (auto param : url->params()) t.query[std::string(param.key)] = std::string(param.value);
  return t;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool parse_bool(const std::string& s, bool& out) {
  if (s == "1" || s == "true" || s == "yes" || s.empty()) {
    out = true;
    return true;
  }
  if (s == "0" || s == "false" || s == "no") {
    out = false;
    return true;
  }
  return false;
}

// The token's length may leak; its content does not (no early exit on the first difference).
bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned>(a[i] ^ b[i]);
  return diff == 0;
}

// Paging parameters with bounds; an error response when they are not numbers.
std::optional<HttpResponse> read_paging(const Target& t, int& limit, int& offset) {
  if (auto it = t.query.find("limit"); it != t.query.end()) {
    auto v = parse_int(it->second);
    if (!v || *v < 1) return error(400, "limit must be a positive integer");
    limit = static_cast<int>(std::min<std::int64_t>(*v, kMaxListLimit));
  }
  if (auto it = t.query.find("offset"); it != t.query.end()) {
    auto v = parse_int(it->second);
    if (!v || *v < 0) return error(400, "offset must be a non-negative integer");
    offset = static_cast<int>(std::min<std::int64_t>(*v, 1'000'000'000));
  }
  return std::nullopt;
}

// The host part of a Host header or an allowed_hosts entry, lower-cased, without port or
// brackets: "[::1]:8930" -> "::1", "LocalHost:80" -> "localhost".
std::string host_name(std::string_view h) {
  std::string_view name = h;
  if (!h.empty() && h.front() == '[') {
    auto close = h.find(']');
    name = close == std::string_view::npos ? h : h.substr(1, close - 1);
  } else if (auto colon = h.find(':'); colon != std::string_view::npos &&
                                        h.find(':', colon + 1) == std::string_view::npos) {
    name = h.substr(0, colon);
  }
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_loopback_name(const std::string& name) {
  if (name == "localhost" || name == "::1") return true;
  // 127.0.0.0/8, written as four decimal parts.
  int parts = 0;
  std::size_t start = 0;
  for (;;) {
    auto dot = name.find('.', start);
    auto part = std::string_view(name).substr(start, dot == std::string::npos ? dot : dot - start);
    auto v = parse_int(part);
    if (!v || *v < 0 || *v > 255 || part.empty() || (parts == 0 && *v != 127)) return false;
    ++parts;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

bool bearer_matches(std::string_view authorization, const std::string& token) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  return !token.empty() && constant_time_equal(authorization.substr(kScheme.size()), token);
}

}  // namespace

bool host_allowed(std::string_view host_header, const std::vector<std::string>& allowed) {
  const std::string name = host_name(host_header);
  if (name.empty()) return false;
  if (is_loopback_name(name)) return true;
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& a) { return host_name(a) == name; });
}

std::optional<HttpResponse> check_access(const AccessPolicy& p, const HttpRequest& r) {
  if (!host_allowed(r.host, p.allowed_hosts)) {
    return error(421, "this API does not serve Host '" + r.host.substr(0, 100) +
                          "': use a loopback address, or add the name to [api] allowed_hosts");
  }
  const std::string path = r.target.substr(0, r.target.find('?'));
  const bool read = r.method == "GET" || r.method == "HEAD";
  if (path == "/healthz") return std::nullopt;
  // The dashboard's files hold no data; it must load to ask for the token.
  if (read && (path == "/" || (path.find('/', 1) == std::string::npos && find_asset(path)))) {
    return std::nullopt;
  }
  if (read && p.public_reads) return std::nullopt;
  if (p.token.empty()) {
    return error(403, "the local API is closed: no [api] token is configured (set one of 16+ "
                      "characters; [api] public_reads = true opens reads on a loopback-only "
                      "set-up)");
  }
  if (!bearer_matches(r.authorization, p.token)) {
    auto res = error(401, "a valid bearer token is required (Authorization: Bearer TOKEN)");
    res.headers.emplace_back("WWW-Authenticate", "Bearer");
    return res;
  }
  return std::nullopt;
}

HttpResponse json_body(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse json_error(int status, const std::string& message) {
  return json_body(status, json::serialize(json::object{{"error", message}}));
}

Api::Api(EngineControl& engine, Store& store, std::string token, const Clock& clock)
    : engine_(engine), store_(store), token_(std::move(token)), clock_(clock) {}

void Api::count(const std::string& route, int status) {
  std::lock_guard lock(counters_mu_);
  ++counters_[{route, status}];
}

HttpResponse Api::handle(const HttpRequest& request) {
  std::string route_name = "unmatched";
  HttpResponse response;
  try {
    response = route(request, route_name);
  } catch (const std::exception& e) {
    // Nothing may escape into the server; the message names no secret (requests carry none).
    response = error(500, std::string("internal error: ") + e.what());
  }
  count(route_name, response.status);
  return response;
}

namespace {

// A trade as the API shows it: with its orders (none when they cannot be read).
json::object with_orders(Store& store, const Trade& t) {
  OrderFilter f;
  f.trade_id = t.id;
  auto orders = store.list_orders(f);
  return trade_json(t, orders.ok() ? *orders : std::vector<Order>{});
}

}  // namespace

// ---- the route table -------------------------------------------------------------------------
// Every route in one table: method, path pattern (":x" matches one segment, handed to the
// handler), whether the bearer token is required (the mutating routes; reads are guarded by the
// HTTP server's access policy), the route label counted for /metrics, and the handler.

struct Api::Routes {
  struct Call {
    Api& api;
    const HttpRequest& req;
    const Target& target;
    const std::string& param;  // the ":x" segment; "" when the pattern has none
  };
  struct Route {
    std::string_view method;
    std::string_view pattern;
    bool token;
    std::string_view metric;
    HttpResponse (*handler)(const Call&);
  };
  static const std::vector<Route>& table();
  static HttpResponse dispatch(Api& api, const HttpRequest& req, const Target& target,
                               std::string& route_name);

  static HttpResponse healthz(const Call& c) {
    json::value h = json::parse(c.api.health_json());  // one engine call: it has a deadline
    return json_response(h.as_object().at("status") == "down" ? 503 : 200, h);
  }
  static HttpResponse metrics(const Call& c);
  static HttpResponse openapi(const Call&) {
    const Asset* doc = find_api_description("/openapi.json");
    if (doc == nullptr) return error(404, "no API description in this build");
    HttpResponse r;
    r.content_type = doc->content_type;
    r.body.assign(reinterpret_cast<const char*>(doc->data), doc->size);
    return r;
  }
  static HttpResponse list_trades(const Call& c);
  static HttpResponse open_trade(const Call& c) { return c.api.post_trade(c.req); }
  static HttpResponse get_trade(const Call& c) { return trade(c, false); }
  static HttpResponse cancel_trade(const Call& c) { return trade(c, true); }
  static HttpResponse trade(const Call& c, bool cancel);
  static HttpResponse modify_trade(const Call& c);
  static HttpResponse close_all(const Call& c);
  static HttpResponse list_orders(const Call& c);
  static HttpResponse get_order(const Call& c) { return order(c, false); }
  static HttpResponse order_audit(const Call& c) { return order(c, true); }
  static HttpResponse order(const Call& c, bool audit);
  static HttpResponse positions(const Call& c);
  static HttpResponse alerts(const Call& c);
  static HttpResponse reconcile(const Call& c);
  static HttpResponse events(const Call&) {
    // The HTTP server streams GET /api/events itself; reaching here means no server did.
    return error(400, "GET /api/events is a Server-Sent Events stream");
  }
};

const std::vector<Api::Routes::Route>& Api::Routes::table() {
  static const std::vector<Route> routes = {
      {"GET", "/openapi.json", false, "GET /openapi.json", &openapi},
      {"GET", "/healthz", false, "GET /healthz", &healthz},
      {"GET", "/metrics", false, "GET /metrics", &metrics},
      {"GET", "/api/trades", false, "GET /api/trades", &list_trades},
      {"POST", "/api/trades", true, "POST /api/trades", &open_trade},
      {"GET", "/api/trades/:id", false, "GET /api/trades/ID", &get_trade},
      {"DELETE", "/api/trades/:id", true, "DELETE /api/trades/ID", &cancel_trade},
      {"PATCH", "/api/trades/:id", true, "PATCH /api/trades/ID", &modify_trade},
      {"POST", "/api/close-all", true, "POST /api/close-all", &close_all},
      {"GET", "/api/orders", false, "GET /api/orders", &list_orders},
      {"GET", "/api/orders/:ref", false, "GET /api/orders/ID", &get_order},
      {"GET", "/api/orders/:ref/audit", false, "GET /api/orders/ID/audit", &order_audit},
      {"GET", "/api/positions", false, "GET /api/positions", &positions},
      {"GET", "/api/alerts", false, "GET /api/alerts", &alerts},
      {"POST", "/api/reconcile", true, "POST /api/reconcile", &reconcile},
      {"GET", "/api/events", false, "GET /api/events", &events},
  };
  return routes;
}

namespace {

// True when `segments` fit `pattern`; the ":x" segment goes to `param`.
bool fits(std::string_view pattern, const std::vector<std::string>& segments, std::string& param) {
  std::size_t i = 0;
  std::string found;
  while (!pattern.empty()) {
    pattern.remove_prefix(1);  // the '/'
    const std::string_view part = pattern.substr(0, pattern.find('/'));
    pattern.remove_prefix(part.size());
    if (i >= segments.size()) return false;
    if (part.starts_with(':')) {
      found = segments[i];
    } else if (part != segments[i]) {
      return false;
    }
    ++i;
  }
  if (i != segments.size()) return false;
  param = std::move(found);
  return true;
}

HttpResponse not_allowed(const std::string& method, const std::string& allowed) {
  auto r = error(405, "method " + method + " not allowed here; allowed: " + allowed);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

}  // namespace

HttpResponse Api::Routes::dispatch(Api& api, const HttpRequest& req, const Target& target,
                                   std::string& route_name) {
  std::vector<const Route*> fitting;
  std::string param;
  for (const Route& r : table()) {
    if (fits(r.pattern, target.segments, param)) fitting.push_back(&r);
  }
  if (fitting.empty()) return error(404, "no such route: " + req.target.substr(0, 200));
  std::string allowed;
  for (const Route* r : fitting) {
    if (r->method == req.method) {
      route_name = std::string(r->metric);
      if (r->token) {
        if (auto refused = api.authorize(req)) return *refused;
      }
      return r->handler(Call{api, req, target, param});
    }
    allowed += (allowed.empty() ? "" : ", ") + std::string(r->method);
  }
  // A path with several methods is counted under the path alone ("/api/trades").
  std::string_view metric = fitting.front()->metric;
  route_name = std::string(fitting.size() == 1 ? metric : metric.substr(metric.find(' ') + 1));
  return not_allowed(req.method, allowed);
}

HttpResponse Api::route(const HttpRequest& req, std::string& route_name) {
  auto target = parse_target(req.target);
  if (!target) return error(400, "malformed request target");
  const auto& seg = target->segments;
  if (seg.empty() || (seg.size() == 1 && find_asset("/" + seg[0]) != nullptr)) {
    route_name = "GET /";
    if (req.method != "GET" && req.method != "HEAD") return not_allowed(req.method, "GET, HEAD");
    const Asset* asset = find_asset(seg.empty() ? "/" : "/" + seg[0]);
    if (asset == nullptr) return error(404, "no dashboard in this build");
    HttpResponse r;
    r.content_type = asset->content_type;
    r.body.assign(reinterpret_cast<const char*>(asset->data), asset->size);
    return r;
  }
  return Routes::dispatch(*this, req, *target, route_name);
}

// Every mutating route: a configured token, presented as a bearer token.
std::optional<HttpResponse> Api::authorize(const HttpRequest& req) const {
  if (token_.empty()) {
    return error(403, "mutating calls are disabled: no [api] token is configured");
  }
  if (!bearer_matches(req.authorization, token_)) {
    auto r = error(401, "a valid bearer token is required (Authorization: Bearer TOKEN)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  return std::nullopt;
}

HttpResponse Api::Routes::metrics(const Call& c) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = c.api.engine_.metrics_text();
  if (!r.body.empty() && r.body.back() != '\n') r.body += "\n";
  std::ostringstream o;
  o << "# HELP orderly_http_requests_total Local API requests answered, by route and status.\n"
    << "# TYPE orderly_http_requests_total counter\n";
  std::lock_guard lock(c.api.counters_mu_);
  for (const auto& [key, n] : c.api.counters_) {
    o << "orderly_http_requests_total{route=\"" << key.first << "\",code=\"" << key.second
      << "\"} " << n << "\n";
  }
  r.body += o.str();
  return r;
}

HttpResponse Api::Routes::list_trades(const Call& c) {
  int limit = 100, offset = 0;
  if (auto r = read_paging(c.target, limit, offset)) return *r;
  auto trades = c.api.store_.list_trades(limit, offset);
  if (!trades.ok()) return error(503, "store: " + trades.status().message());
  json::array out;
  for (const auto& t : *trades) out.push_back(with_orders(c.api.store_, t));
  return json_response(200, out);
}

// GET or DELETE /api/trades/ID: the trade after the cancel was asked for.
HttpResponse Api::Routes::trade(const Call& c, bool cancel) {
  auto id = parse_int(c.param);
  if (!id || *id <= 0) return error(400, "trade id must be a positive integer");
  if (cancel) {
    auto existing = c.api.store_.get_trade(*id);
    if (!existing.ok()) return error(503, "store: " + existing.status().message());
    if (!existing->has_value()) return error(404, "no trade " + c.param);
    // Without ?flatten=true only what has not filled is canceled (409 while a position is
    // held); with it the trade's orders are canceled and what it holds is sold at market.
    bool flatten = false;
    if (auto it = c.target.query.find("flatten"); it != c.target.query.end()) {
      if (!parse_bool(it->second, flatten)) return error(400, "flatten must be true or false");
    }
    Status s = flatten ? c.api.engine_.cancel_trade(*id) : c.api.engine_.cancel_entry(*id);
    if (!s) return refusal(s);
  }
  auto trade = c.api.store_.get_trade(*id);
  if (!trade.ok()) return error(503, "store: " + trade.status().message());
  if (!trade->has_value()) return error(404, "no trade " + c.param);
  return json_response(cancel ? 202 : 200, with_orders(c.api.store_, **trade));
}

// PATCH /api/trades/ID: new exit targets; 202 with the trade as recorded (its exits at the
// broker follow: replaced, or canceled and placed again; see engine_modify.cc).
HttpResponse Api::Routes::modify_trade(const Call& c) {
  auto id = parse_int(c.param);
  if (!id || *id <= 0) return error(400, "trade id must be a positive integer");
  ExitChange change;
  try {
    change = parse_exit_change(c.req.body);
  } catch (const BodyError& e) {
    return error(400, e.message);
  }
  auto existing = c.api.store_.get_trade(*id);
  if (!existing.ok()) return error(503, "store: " + existing.status().message());
  if (!existing->has_value()) return error(404, "no trade " + c.param);
  const Trade& before = **existing;
  if (is_terminal(before.state)) {
    // Ended trades leave the engine's memory: the store says what became of it.
    return error(409, "trade " + c.param + " is " + std::string(to_string(before.state)) +
                          ": its exits can no longer change");
  }
  TradeSpec next = before.spec;
  if (change.take_profit) next.take_profit = *change.take_profit;
  if (change.stop_loss) next.stop_loss = *change.stop_loss;
  if (auto refused = c.api.refuse_by_asset(next, /*opening=*/false)) return *refused;
  if (Status s = c.api.engine_.modify_exits(*id, change); !s) return refusal(s);
  auto trade = c.api.store_.get_trade(*id);
  if (!trade.ok()) return error(503, "store: " + trade.status().message());
  if (!trade->has_value()) return error(404, "no trade " + c.param);
  return json_response(202, with_orders(c.api.store_, **trade));
}

// POST /api/close-all: every trade not yet ended is closed (its orders canceled, what it holds
// sold or bought back at market). Positions orderly did not open are left alone.
HttpResponse Api::Routes::close_all(const Call& c) {
  auto ids = c.api.engine_.close_all();
  if (!ids.ok()) return refusal(ids.status());
  json::array closing;
  for (TradeId id : *ids) closing.push_back(id);
  return json_response(202, json::object{{"closing", std::move(closing)}});
}

HttpResponse Api::Routes::list_orders(const Call& c) {
  OrderFilter f;
  f.limit = 200;
  if (auto r = read_paging(c.target, f.limit, f.offset)) return *r;
  const auto& q = c.target.query;
  if (auto it = q.find("state"); it != q.end()) {
    f.state = parse_order_state(it->second);
    if (!f.state) return error(400, "unknown state '" + it->second.substr(0, 40) + "'");
  }
  if (auto it = q.find("symbol"); it != q.end()) f.symbol = it->second;
  if (auto it = q.find("trade_id"); it != q.end()) {
    auto v = parse_int(it->second);
    if (!v) return error(400, "trade_id must be an integer");
    f.trade_id = *v;
  }
  if (auto it = q.find("open"); it != q.end()) {
    if (!parse_bool(it->second, f.open_only)) return error(400, "open must be true or false");
  }
  auto orders = c.api.store_.list_orders(f);
  if (!orders.ok()) return error(503, "store: " + orders.status().message());
  json::array out;
  for (const auto& o : *orders) out.push_back(order_json(o));
  return json_response(200, out);
}

// One order by a local id (digits), our client_order_id, or the broker's id: whatever the user
// has; with `audit`, its events and fills too.
HttpResponse Api::Routes::order(const Call& c, bool audit) {
  Store& store = c.api.store_;
  const std::string& ref = c.param;
  StatusOr<std::optional<Order>> found = std::optional<Order>();
  if (auto id = parse_int(ref)) {
    found = store.get_order(*id);
  } else {
    found = store.find_order_by_client_id(ref);
    if (found.ok() && !found->has_value()) found = store.find_order_by_broker_id(ref);
  }
  if (!found.ok()) return error(503, "store: " + found.status().message());
  if (!found->has_value()) return error(404, "no order " + ref.substr(0, 80));
  const Order& order = **found;
  if (!audit) return json_response(200, order_json(order));
  auto events = store.order_events(order.id);
  if (!events.ok()) return error(503, "store: " + events.status().message());
  json::array ev;
  for (const auto& e : *events) ev.push_back(event_json(e));
  json::array fills;
  if (auto f = store.fills_for(order.id); f.ok()) {
    for (const auto& x : *f) {
      fills.push_back(json::object{{"execution_id", x.execution_id},
                                   {"qty", x.qty.str()},
                                   {"price", x.price.str()},
                                   {"at", ts(x.at)}});
    }
  }
  return json_response(200, json::object{{"order", order_json(order)},
                                          {"events", std::move(ev)},
                                          {"fills", std::move(fills)}});
}

HttpResponse Api::Routes::positions(const Call& c) {
  json::array out;
  for (const auto& p : c.api.engine_.positions()) {
    out.push_back(json::object{{"symbol", p.symbol},
                               {"local_qty", p.local_qty.str()},
                               {"broker_qty", dec(p.broker_qty)},
                               {"drift", p.drift.str()},
                               {"mismatch", p.mismatch},
                               {"avg_entry_price", dec(p.avg_entry_price)},
                               {"current_price", dec(p.current_price)},
                               {"unrealized_pl", dec(p.unrealized_pl)},
                               {"priced_at", p.priced_at ? json::value(ts(*p.priced_at))
                                                         : json::value(nullptr)},
                               {"held_by_trades", p.held_by_trades.str()},
                               {"covered_by_exits", p.covered_by_exits.str()}});
  }
  return json_response(200, out);
}

HttpResponse Api::Routes::alerts(const Call& c) {
  bool active_only = false;
  if (auto it = c.target.query.find("active"); it != c.target.query.end()) {
    if (!parse_bool(it->second, active_only)) return error(400, "active must be true or false");
  }
  int limit = 200, offset = 0;
  if (auto r = read_paging(c.target, limit, offset)) return *r;
  auto alerts = c.api.store_.list_alerts(active_only, limit);
  if (!alerts.ok()) return error(503, "store: " + alerts.status().message());
  json::array out;
  // A failing store cannot record the alert about itself: it is told from the engine's health
  // (id null, as the daemon's own lease_lost). Before, `orderly alerts` listed nothing and
  // exited 0 while every commit failed.
  if (Health h = c.api.health(); !h.store_ok) {
    out.push_back(json::object{
        {"severity", to_string(AlertSeverity::critical)},
        {"id", nullptr},
        {"kind", "store_failing"},
        {"subject", "store"},
        {"message", "the store refuses writes; nothing new is recorded or sent: " + h.store_error},
        {"raised_at", ts(h.store_failing_since)},
        {"cleared_at", nullptr},
        {"active", true},
    });
  }
  for (const auto& a : *alerts) out.push_back(alert_json(a));
  return json_response(200, out);
}

HttpResponse Api::Routes::reconcile(const Call& c) {
  bool fix = false;
  if (!c.req.body.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(c.req.body, ec);
    if (ec || !v.is_object()) return error(400, "body must be a JSON object such as {\"fix\":true}");
    if (const auto* f = v.as_object().if_contains("fix")) {
      if (!f->is_bool()) return error(400, "field 'fix' must be true or false");
      fix = f->as_bool();
    }
  }
  ReconcileReport rep = c.api.engine_.reconcile(fix);
  json::array findings;
  for (const auto& s : rep.findings) findings.push_back(json::string(s));
  json::object out{{"fix", fix},
                   {"orders_checked", rep.orders_checked},
                   {"orders_adopted", rep.orders_adopted},
                   {"orders_external", rep.orders_external},
                   {"orders_unadopted", rep.orders_unadopted},
                   {"complete", rep.complete},
                   {"fills_adopted", rep.fills_adopted},
                   {"position_mismatches", rep.position_mismatches},
                   {"findings", std::move(findings)},
                   {"ok", rep.status.ok()},
                   {"error", rep.status.ok() ? json::value(nullptr)
                                                : json::value(rep.status.message())}};
  return json_response(rep.status.ok() ? 200 : 503, out);
}

// POST /api/trades after authorization. With a client_trade_id the key is looked up and the
// trade opened under open_mu_: a repeat (a retry after a timeout, a restart, a second copy)
// answers 200 with the trade the key already names, or 409 when it asks for something else.
HttpResponse Api::post_trade(const HttpRequest& req) {
  TradeSpec spec;
  try {
    spec = parse_trade_spec(req.body);
  } catch (const BodyError& e) {
    return error(400, e.message);
  }
  if (!req.idempotency_key.empty()) {
    if (!valid_client_trade_id(req.idempotency_key)) {
      return error(400, std::string("the Idempotency-Key header: ") + kBadClientTradeId);
    }
    if (!spec.client_trade_id.empty() && spec.client_trade_id != req.idempotency_key) {
      return error(400, "the Idempotency-Key header and the body's 'client_trade_id' differ");
    }
    spec.client_trade_id = req.idempotency_key;
  }
  const bool keyed = !spec.client_trade_id.empty();
  if (std::string problem = validate(spec); !problem.empty()) return error(400, problem);
  std::unique_lock<std::mutex> lock(open_mu_, std::defer_lock);
  if (keyed) {
    lock.lock();
    auto existing = store_.find_trade_by_client_id(spec.client_trade_id);
    if (!existing.ok()) return error(503, "store: " + existing.status().message());
    if (existing->has_value()) {
      const Trade& t = **existing;
      if (!same_trade(t.spec, spec)) {
        return error(409, "client_trade_id '" + spec.client_trade_id + "' already names trade " +
                              std::to_string(t.id) + ", opened with a different body");
      }
      return json_response(200, with_orders(store_, t));
    }
  }
  if (auto refused = refuse_by_asset(spec, /*opening=*/true)) return *refused;
  auto trade = engine_.open_trade(spec);
  if (!trade.ok()) return refusal(trade.status());
  return json_response(201, with_orders(store_, *trade));
}

// A trade against its symbol's asset, read once per symbol (kept an hour): what the broker
// refuses for the asset's sake (not tradable, not fractionable, not shortable, hard to borrow,
// a pair's sizes) is refused first. An asset that cannot be read refuses a new trade with 503
// (it is not guessed at, nor taken unchecked). A modify is not held up by it: moving a stop
// must not wait on a read that is not about the position's safety, and the broker still judges
// the price; only a pair's exit prices have an asset rule.
std::optional<HttpResponse> Api::refuse_by_asset(const TradeSpec& spec, bool opening) {
  if (!assets_ || (!opening && !is_crypto_symbol(spec.symbol))) return std::nullopt;
  const AssetAnswer answer = assets_(spec.symbol);
  if (!answer.asset && !opening) return std::nullopt;
  if (answer.not_found) {
    return error(400, spec.symbol + " is not an asset at the broker (GET /v2/assets answered "
                                    "404): nothing was sent");
  }
  if (!answer.asset) {
    return error(503, "could not read " + spec.symbol + "'s asset from the broker (" +
                          answer.error + "): what it allows is unknown, so nothing was sent; "
                          "try again");
  }
  const std::string problem = opening ? check_asset_rules(spec, *answer.asset)
                                      : check_exit_prices(spec, *answer.asset);
  if (!problem.empty()) {
    return error(400, problem);
  }
  return std::nullopt;
}

std::vector<std::pair<std::int64_t, std::string>> Api::events_after(std::int64_t after_seq,
                                                                     int limit) {
  std::vector<std::pair<std::int64_t, std::string>> out;
  auto events = store_.events_since(after_seq, limit);
  if (!events.ok()) return out;
  for (const auto& e : *events) {
    json::object o = event_json(e);
    o.erase("payload");  // the dashboard fetches the audit trail when it wants the payloads
    out.emplace_back(e.seq, json::serialize(o));
  }
  return out;
}

std::int64_t Api::last_event_seq() {
  std::int64_t last = 0;
  for (;;) {
    auto events = store_.events_since(last, 1000);
    if (!events.ok() || events->empty()) return last;
    last = events->back().seq;
    if (events->size() < 1000) return last;
  }
}

Health Api::health() {
  Health h = engine_.health();
  // The engine judges the store by its commits; a read that found the file damaged counts too.
  if (std::string fault = store_.fault(); !fault.empty()) {
    h.store_ok = false;
    h.store_error = fault;
    assess(h, clock_.now());  // its reason among the others
    // A damaged file does not heal while the process runs: the account cannot trade on it.
    h.status = HealthStatus::down;
  }
  return h;
}

std::string Api::health_json() {
  Health h = health();
  Timestamp now = clock_.now();
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
       h.last_sync_at ? json::value(now.ms_since(*h.last_sync_at)) : json::value(nullptr)},
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
      {"now", ts(now)},
  };
  const std::optional<Market> market = market_ ? market_() : std::nullopt;
  o["market"] = market ? json::value(json::object{{"is_open", market->is_open},
                                                  {"next_open", ts(market->next_open)},
                                                  {"next_close", ts(market->next_close)},
                                                  {"as_of", ts(market->as_of)}})
                       : json::value(nullptr);
  return json::serialize(o);
}

}  // namespace orderly::server
