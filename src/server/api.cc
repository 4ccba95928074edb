#include "server/api.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

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
#include "server/json_shapes.h"

namespace orderly::server {
namespace json = boost::json;
using shapes::alert_json;
using shapes::audit_json;
using shapes::order_json;
using shapes::position_json;
using shapes::trade_json;

namespace {

constexpr int kMaxListLimit = 1000;

HttpResponse json_response(int status, const json::value& v) {
  return json_body(status, json::serialize(v));
}

HttpResponse error(int status, std::string message) {
  return json_response(status, json::object{{"error", std::move(message)}});
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

// What a trade is, without its key (nor the price_increment the API layer adds): a retry must
// ask for the same thing to get the same trade.
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

HttpResponse Api::handle(const HttpRequest& request) { return handle_for(request, ""); }

HttpResponse Api::handle_for(const HttpRequest& request, std::string_view account) {
  std::string route_name = "unmatched";
  HttpResponse response;
  try {
    response = route(request, account, route_name);
  } catch (const std::exception& e) {
    // Nothing may escape into the server; the message names no secret (requests carry none).
    response = error(500, std::string("internal error: ") + e.what());
  }
  count(route_name, response.status);
  return response;
}

// ---- the route table -------------------------------------------------------------------------
// Every route in one table: method, path pattern (":x" matches one segment, handed to the
// handler), whether the bearer token is required (the mutating routes; reads are guarded by the
// HTTP server's access policy), the route label counted for /metrics, and the handler.
//
// The read routes ask the accounts of the call (AccountQueries): this Api's own, or several
// (read_accounts); the others are one account's and use its Api.

struct Api::Routes {
  // Who answers: one account's Api, or several accounts (GET /api/... only; no Api).
  struct Scope {
    Api* api;
    std::string_view account;  // names the answer's objects; "" with one account
    const std::vector<AccountSource>& accounts;
    const std::vector<AccountAlert>& daemon_alerts;
  };
  struct Call {
    const Scope& scope;
    const HttpRequest& req;
    const Target& target;
    const std::string& param;  // the ":x" segment; "" when the pattern has none
    Api& api() const { return *scope.api; }
  };
  struct Route {
    std::string_view method;
    std::string_view pattern;
    bool token;
    std::string_view metric;
    HttpResponse (*handler)(const Call&);
  };
  static const std::vector<Route>& table();
  static HttpResponse dispatch(const Scope& scope, const HttpRequest& req, const Target& target,
                               std::string& route_name);
  static HttpResponse tagged(int status, json::object o, const Call& c) {
    shapes::tag(o, c.scope.account);
    return json_response(status, o);
  }

  static HttpResponse healthz(const Call& c) {
    const HealthReport r = c.api().health_report();  // one engine call: it has a deadline
    return tagged(r.health.status == HealthStatus::down ? 503 : 200, shapes::health_json(r), c);
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
  static HttpResponse open_trade(const Call& c) {
    return c.api().post_trade(c.req, c.scope.account);
  }
  static HttpResponse get_trade(const Call& c);
  static HttpResponse cancel_trade(const Call& c);
  static HttpResponse modify_trade(const Call& c);
  static HttpResponse close_all(const Call& c);
  static HttpResponse list_orders(const Call& c);
  static HttpResponse get_order(const Call& c);
  static HttpResponse order_audit(const Call& c);
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

HttpResponse Api::Routes::dispatch(const Scope& scope, const HttpRequest& req,
                                   const Target& target, std::string& route_name) {
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
        // Only reads go to several accounts (read_accounts); a mutation is one account's.
        if (scope.api == nullptr) return error(400, "name one account with ?account=NAME");
        if (auto refused = scope.api->authorize(req)) return *refused;
      }
      return r->handler(Call{scope, req, target, param});
    }
    allowed += (allowed.empty() ? "" : ", ") + std::string(r->method);
  }
  // A path with several methods is counted under the path alone ("/api/trades").
  std::string_view metric = fitting.front()->metric;
  route_name = std::string(fitting.size() == 1 ? metric : metric.substr(metric.find(' ') + 1));
  return not_allowed(req.method, allowed);
}

HttpResponse Api::route(const HttpRequest& req, std::string_view account,
                        std::string& route_name) {
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
  const std::vector<AccountSource> self{{std::string(account), this}};
  const std::vector<AccountAlert> none;
  return Routes::dispatch({this, account, self, none}, req, *target, route_name);
}

HttpResponse Api::read_accounts(const HttpRequest& req, const std::vector<AccountSource>& accounts,
                                const std::vector<AccountAlert>& daemon_alerts,
                                std::string& route_name) {
  route_name = "unmatched";
  auto target = parse_target(req.target);
  if (!target) return error(400, "malformed request target");
  if (accounts.empty()) return error(503, "no account is active in this process");
  if ((req.method != "GET" && req.method != "HEAD") || target->segments.empty() ||
      target->segments[0] != "api") {
    return error(400, "only GET /api/... reads several accounts: name one with ?account=NAME");
  }
  try {
    return Routes::dispatch({nullptr, "", accounts, daemon_alerts}, req, *target, route_name);
  } catch (const std::exception& e) {
    return error(500, std::string("internal error: ") + e.what());  // as handle_for
  }
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
  Api& api = c.api();
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = api.engine_.metrics_text();
  if (!r.body.empty() && r.body.back() != '\n') r.body += "\n";
  std::ostringstream o;
  o << "# HELP orderly_http_requests_total Local API requests answered, by route and status.\n"
    << "# TYPE orderly_http_requests_total counter\n";
  std::lock_guard lock(api.counters_mu_);
  for (const auto& [key, n] : api.counters_) {
    o << "orderly_http_requests_total{route=\"" << key.first << "\",code=\"" << key.second
      << "\"} " << n << "\n";
  }
  r.body += o.str();
  return r;
}

namespace {

HttpResponse store_error(const Status& s) { return error(503, "store: " + s.message()); }

// One object in whichever account holds it: local ids are per account (409 when several hold
// one), client and broker ids are unique. With one account, its own answer. `lookup` answers
// for one account: 200 with the object (naming the account), or the account's error; a 404 is
// kept unless another account answers an error of its own.
template <class Lookup>
HttpResponse find_in_accounts(const std::vector<AccountSource>& accounts, Lookup lookup) {
  std::vector<std::pair<std::string_view, HttpResponse>> found;
  HttpResponse last;
  for (const AccountSource& a : accounts) {
    HttpResponse r = lookup(a);
    if (r.status == 200) {
      found.emplace_back(a.name, std::move(r));
    } else if (r.status != 404 || last.body.empty()) {
      last = std::move(r);
    }
  }
  if (found.size() == 1) return std::move(found.front().second);
  if (found.size() > 1) {
    std::string in;
    for (auto& f : found) in += (in.empty() ? "" : ", ") + std::string(f.first);
    return error(409, "found in several accounts (" + in + "): add ?account=NAME");
  }
  return last;
}

}  // namespace

HttpResponse Api::Routes::list_trades(const Call& c) {
  int limit = 100, offset = 0;
  if (auto r = read_paging(c.target, limit, offset)) return *r;
  json::array out;
  for (const AccountSource& a : c.scope.accounts) {
    auto trades = a.queries->trades(limit, offset);
    if (!trades.ok()) return store_error(trades.status());
    for (const auto& t : *trades) out.push_back(trade_json(t, a.name));
  }
  return json_response(200, out);
}

HttpResponse Api::Routes::get_trade(const Call& c) {
  auto id = parse_int(c.param);
  if (!id || *id <= 0) return error(400, "trade id must be a positive integer");
  return find_in_accounts(c.scope.accounts, [&](const AccountSource& a) {
    auto trade = a.queries->trade(*id);
    if (!trade.ok()) return store_error(trade.status());
    if (!trade->has_value()) return error(404, "no trade " + c.param);
    return json_response(200, trade_json(**trade, a.name));
  });
}

// DELETE /api/trades/ID: the trade after the cancel was asked for. Without ?flatten=true only
// what has not filled is canceled (409 while a position is held); with it the trade's orders
// are canceled and what it holds is sold at market.
HttpResponse Api::Routes::cancel_trade(const Call& c) {
  Api& api = c.api();
  auto id = parse_int(c.param);
  if (!id || *id <= 0) return error(400, "trade id must be a positive integer");
  auto existing = api.store_.get_trade(*id);
  if (!existing.ok()) return store_error(existing.status());
  if (!existing->has_value()) return error(404, "no trade " + c.param);
  bool flatten = false;
  if (auto it = c.target.query.find("flatten"); it != c.target.query.end()) {
    if (!parse_bool(it->second, flatten)) return error(400, "flatten must be true or false");
  }
  Status s = flatten ? api.engine_.cancel_trade(*id) : api.engine_.cancel_entry(*id);
  if (!s) return refusal(s);
  auto trade = api.trade(*id);
  if (!trade.ok()) return store_error(trade.status());
  if (!trade->has_value()) return error(404, "no trade " + c.param);
  return tagged(202, trade_json(**trade), c);
}

// PATCH /api/trades/ID: new exit targets; 202 with the trade as recorded (its exits at the
// broker follow: replaced, or canceled and placed again; see exit_modifier.cc).
HttpResponse Api::Routes::modify_trade(const Call& c) {
  Api& api = c.api();
  auto id = parse_int(c.param);
  if (!id || *id <= 0) return error(400, "trade id must be a positive integer");
  ExitChange change;
  try {
    change = parse_exit_change(c.req.body);
  } catch (const BodyError& e) {
    return error(400, e.message);
  }
  auto existing = api.store_.get_trade(*id);
  if (!existing.ok()) return store_error(existing.status());
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
  if (auto refused = api.refuse_by_asset(next, /*opening=*/false)) return *refused;
  change.price_increment = next.price_increment;
  if (Status s = api.engine_.modify_exits(*id, change); !s) return refusal(s);
  auto trade = api.trade(*id);
  if (!trade.ok()) return store_error(trade.status());
  if (!trade->has_value()) return error(404, "no trade " + c.param);
  return tagged(202, trade_json(**trade), c);
}

// POST /api/close-all: every trade not yet ended is closed (its orders canceled, what it holds
// sold or bought back at market). Positions orderly did not open are left alone.
HttpResponse Api::Routes::close_all(const Call& c) {
  auto ids = c.api().engine_.close_all();
  if (!ids.ok()) return refusal(ids.status());
  json::array closing;
  for (TradeId id : *ids) closing.push_back(id);
  return tagged(202, json::object{{"closing", std::move(closing)}}, c);
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
  json::array out;
  for (const AccountSource& a : c.scope.accounts) {
    auto orders = a.queries->orders(f);
    if (!orders.ok()) return store_error(orders.status());
    for (const auto& o : *orders) out.push_back(order_json(o, a.name));
  }
  return json_response(200, out);
}

HttpResponse Api::Routes::get_order(const Call& c) {
  return find_in_accounts(c.scope.accounts, [&](const AccountSource& a) {
    auto found = a.queries->order(c.param);
    if (!found.ok()) return store_error(found.status());
    if (!found->has_value()) return error(404, "no order " + c.param.substr(0, 80));
    return json_response(200, order_json(**found, a.name));
  });
}

HttpResponse Api::Routes::order_audit(const Call& c) {
  return find_in_accounts(c.scope.accounts, [&](const AccountSource& a) {
    auto found = a.queries->audit(c.param);
    if (!found.ok()) return store_error(found.status());
    if (!found->has_value()) return error(404, "no order " + c.param.substr(0, 80));
    return json_response(200, audit_json(**found, a.name));
  });
}

HttpResponse Api::Routes::positions(const Call& c) {
  json::array out;
  for (const AccountSource& a : c.scope.accounts) {
    for (const auto& p : a.queries->positions()) out.push_back(position_json(p, a.name));
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
  json::array out;
  for (const AccountAlert& a : c.scope.daemon_alerts) out.push_back(alert_json(a.alert, a.account));
  for (const AccountSource& a : c.scope.accounts) {
    auto alerts = a.queries->alerts(active_only, limit);
    if (!alerts.ok()) return store_error(alerts.status());
    for (const auto& row : *alerts) out.push_back(alert_json(row, a.name));
  }
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
  ReconcileReport rep = c.api().engine_.reconcile(fix);
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
HttpResponse Api::post_trade(const HttpRequest& req, std::string_view account) {
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
      return json_response(200, trade_json(with_orders(t), account));
    }
  }
  if (auto refused = refuse_by_asset(spec, /*opening=*/true)) return *refused;
  if (auto refused = refuse_short(spec)) return *refused;
  if (auto refused = refuse_crypto_value(spec)) return *refused;
  auto trade = engine_.open_trade(spec);
  if (!trade.ok()) return refusal(trade.status());
  return json_response(201, trade_json(with_orders(*trade), account));
}

// A trade against its symbol's asset, read once per symbol (kept an hour): what the broker
// refuses for the asset's sake (not tradable, not fractionable, not shortable, hard to borrow,
// a pair's sizes) is refused first. An asset that cannot be read refuses a new trade with 503
// (it is not guessed at, nor taken unchecked). A modify is not held up by it: moving a stop
// must not wait on a read that is not about the position's safety, and the broker still judges
// the price; only a pair's exit prices have an asset rule.
std::optional<HttpResponse> Api::refuse_by_asset(TradeSpec& spec, bool opening) {
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
  if (!opening) {
    // A pair's trade opened before schema 4 keeps no increment: its new exits take the asset's.
    if (!spec.price_increment) spec.price_increment = answer.asset->price_increment;
    const std::string problem = check_exit_prices(spec, *answer.asset);
    return problem.empty() ? std::nullopt : std::optional(error(400, problem));
  }
  // A percent exit is priced at the fill, by the engine, which reads no assets: the trade keeps
  // the pair's increment so that price is one the broker takes (core/trade.h exit_prices).
  if (is_crypto_symbol(spec.symbol)) spec.price_increment = answer.asset->price_increment;
  // A sell entry within a held long closes it: the asset's rules of shorts are not its. When
  // only they refuse it, the long decides, as the broker's position read now says (judge_long).
  const std::string problem = check_asset_rules(spec, *answer.asset, /*opens_short=*/true);
  if (problem.empty()) return std::nullopt;
  if (std::string other = check_asset_rules(spec, *answer.asset, /*opens_short=*/false);
      !other.empty()) {
    // Refused either way: the rule of shorts is named first where a short is what we see.
    return error(400, opens_short(spec, long_held(spec.symbol)) ? problem : other);
  }
  const LongCover held = judge_long(spec);
  if (held.verdict == LongCover::Verdict::covers) return std::nullopt;
  if (held.verdict == LongCover::Verdict::unknown) {
    return error(503, fmt::format("could not read {}'s position from the broker ({}): whether a "
                                  "long still covers this sell entry of {} is unknown (orderly's "
                                  "fills and its last read of the broker show {}, and either may "
                                  "be behind); without one: {}; nothing was sent, try again",
                                  spec.symbol, held.error, sell_of(spec), held.held.str(),
                                  problem));
  }
  return error(400, problem);
}

Decimal Api::long_held(const std::string& symbol) {
  Decimal held;
  for (const PositionView& p : engine_.positions()) {
    if (p.symbol == symbol) held = Decimal::max(p.local_qty, p.broker_qty.value_or(Decimal()));
  }
  return held;
}

// As the engine judges a fractional sell (trade_executor.cc, refuse_fractional_short): on the
// broker's position alone, read after our last fill of the symbol, here read now. Orderly's own
// fills and the engine's last read each may show a long the broker no longer holds (our exit
// sold it since the read; another client sold it): a sell taken on them opened a short at the
// broker, which refused it for the asset or the account, and the trade failed. Without a
// position source (API tests without a broker) the engine's last read decides.
Api::LongCover Api::judge_long(const TradeSpec& spec) {
  using V = LongCover::Verdict;
  if (!positions_) {
    Decimal read;
    for (const PositionView& p : engine_.positions()) {
      if (p.symbol == spec.symbol) read = p.broker_qty.value_or(Decimal());
    }
    return {opens_short(spec, read) ? V::opens_short : V::covers, read, {}};
  }
  const PositionAnswer p = positions_(spec.symbol);
  if (!p.read) return {V::unknown, long_held(spec.symbol), p.error};
  return {opens_short(spec, p.qty) ? V::opens_short : V::covers, p.qty, {}};
}

std::string Api::sell_of(const TradeSpec& spec) {
  return spec.notional ? "notional " + spec.notional->str() + " USD of " + spec.symbol
                       : spec.qty.str() + " " + spec.symbol;
}

// Only the part of a sell entry beyond the long held goes below zero. A notional sell's qty is
// known only at its fill: any long takes it (Alpaca sells no notional short; beyond the long
// it answers insufficient qty, not a short).
bool Api::opens_short(const TradeSpec& spec, Decimal held) {
  if (spec.side != Side::sell || is_crypto_symbol(spec.symbol)) return false;
  if (spec.notional) return !held.is_positive();
  return !spec.qty.is_positive() || held < spec.qty;
}

// A sell entry opens a short unless a long position covers it. On an account whose
// shorting_enabled is false Alpaca refuses the short (403 40310000 "account is not allowed to
// short"), so orderly refuses it first. The account is read once and kept ten minutes (a read
// per trade would cost the rate budget); a refusal stands only on an answer at most
// kRefusalAccountAgeMs old, as a kept one may predate the change that allowed it. Whether a long
// covers the sell is the broker's position read now (judge_long): neither orderly's own fills
// nor the engine's last read (up to a minute old) is taken for it, either way. An account or
// position that cannot be read refuses a sell that may open a short with 503: it is not taken
// unchecked.
std::optional<HttpResponse> Api::refuse_short(const TradeSpec& spec) {
  if (!account_ || !opens_short(spec, Decimal())) return std::nullopt;  // no sell of an equity
  AccountAnswer a = account_(kAccountKeepMs);
  const auto stale = [&] { return clock_.now().ms_since(a.read_at) > kRefusalAccountAgeMs; };
  if (a.read && a.shorting_enabled == false && stale()) a = account_(kRefusalAccountAgeMs);
  if (a.read && a.shorting_enabled != false) return std::nullopt;
  const LongCover held = judge_long(spec);
  if (held.verdict == LongCover::Verdict::covers) return std::nullopt;
  if (!a.read) {
    return error(503, "could not read the account from the broker (" + a.error +
                          "): whether it may sell short is unknown, and this sell entry opens a "
                          "short, so nothing was sent; try again");
  }
  if (held.verdict == LongCover::Verdict::unknown) {
    return error(503, "could not read " + spec.symbol + "'s position from the broker (" +
                          held.error + "): the account may not sell short, and whether a long "
                          "covers this sell entry is unknown, so nothing was sent; try again");
  }
  const std::string rule = fmt::format("the account may not sell short (the broker's account: "
                                       "shorting_enabled false, read {} s ago), and ",
                                       clock_.now().ms_since(a.read_at) / 1000);
  const std::string alpaca = " (Alpaca: account is not allowed to short); nothing was sent";
  if (!held.held.is_positive()) {
    return error(400, rule + "this sell entry of " + sell_of(spec) +
                          " opens a short: no long position of the account covers it" + alpaca);
  }
  return error(400, fmt::format("{}this sell entry of {} {} goes {} below the long of {} the "
                                "account holds: that part would open a short; sell at most {}{}",
                                rule, spec.qty.str(), spec.symbol, (spec.qty - held.held).str(),
                                held.held.str(), held.held.str(), alpaca));
}

// A crypto market entry by qty is worth its qty at a price orderly reads nowhere (it has no
// market data): it is judged at the broker's price of the pair in its positions (as the engine
// last read them) or at orderly's own latest fill of it, whichever is later, when at most
// kPriceMaxAgeMs old. With neither, the broker judges it (it answers "cost basis must be >=
// minimal amount of order 10"): accepted, not guessed at.
std::optional<HttpResponse> Api::refuse_crypto_value(const TradeSpec& spec) {
  if (!is_crypto_symbol(spec.symbol) || spec.notional || spec.entry_type != OrderType::market) {
    return std::nullopt;
  }
  const Timestamp now = clock_.now();
  std::optional<Decimal> price;
  Timestamp at;
  std::string by;
  for (const PositionView& p : engine_.positions()) {
    if (p.symbol != spec.symbol || !p.current_price || !p.priced_at) continue;
    if (now.ms_since(*p.priced_at) > kPriceMaxAgeMs) continue;
    price = p.current_price;
    at = *p.priced_at;
    by = "the broker's price in its positions";
  }
  OrderFilter f;
  f.symbol = spec.symbol;
  f.limit = 20;  // the latest first
  auto orders = store_.list_orders(f);
  for (const Order& o : orders.ok() ? *orders : std::vector<Order>{}) {
    if (!o.filled_qty.is_positive() || !o.filled_avg_price) continue;
    const Timestamp filled_at = o.broker_updated_at.value_or(o.updated_at);
    if (now.ms_since(filled_at) > kPriceMaxAgeMs || (price && filled_at <= at)) continue;
    price = o.filled_avg_price;
    at = filled_at;
    by = "orderly's fill of " + o.client_order_id;
  }
  if (!price) return std::nullopt;
  const std::string problem = check_crypto_market_value(
      spec, *price, fmt::format("{}, {} s old", by, now.ms_since(at) / 1000));
  if (problem.empty()) return std::nullopt;
  return error(400, problem);
}


std::vector<std::pair<std::int64_t, std::string>> Api::events_after(std::int64_t after_seq,
                                                                     int limit) {
  std::vector<std::pair<std::int64_t, std::string>> out;
  for (const auto& e : events_since(after_seq, limit)) {
    out.emplace_back(e.seq, json::serialize(shapes::feed_event_json(e)));
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

std::string Api::health_json() { return json::serialize(shapes::health_json(health_report())); }

// ---- AccountQueries --------------------------------------------------------------------------

TradeRecord Api::with_orders(const Trade& t) {
  OrderFilter f;
  f.trade_id = t.id;
  auto orders = store_.list_orders(f);
  return {t, orders.ok() ? std::move(*orders) : std::vector<Order>{}};
}

StatusOr<std::vector<TradeRecord>> Api::trades(int limit, int offset) {
  auto trades = store_.list_trades(limit, offset);
  if (!trades.ok()) return trades.status();
  std::vector<TradeRecord> out;
  for (const auto& t : *trades) out.push_back(with_orders(t));
  return out;
}

StatusOr<std::optional<TradeRecord>> Api::trade(TradeId id) {
  auto trade = store_.get_trade(id);
  if (!trade.ok()) return trade.status();
  if (!trade->has_value()) return std::optional<TradeRecord>();
  return std::optional<TradeRecord>(with_orders(**trade));
}

StatusOr<std::vector<Order>> Api::orders(const OrderFilter& filter) {
  return store_.list_orders(filter);
}

StatusOr<std::optional<Order>> Api::order(std::string_view ref) {
  if (auto id = parse_int(ref)) return store_.get_order(*id);
  auto found = store_.find_order_by_client_id(ref);
  if (found.ok() && !found->has_value()) found = store_.find_order_by_broker_id(ref);
  return found;
}

StatusOr<std::optional<OrderAudit>> Api::audit(std::string_view ref) {
  auto found = order(ref);
  if (!found.ok()) return found.status();
  if (!found->has_value()) return std::optional<OrderAudit>();
  OrderAudit a{.order = std::move(**found)};
  auto events = store_.order_events(a.order.id);
  if (!events.ok()) return events.status();
  a.events = std::move(*events);
  if (auto fills = store_.fills_for(a.order.id); fills.ok()) a.fills = std::move(*fills);
  return std::optional<OrderAudit>(std::move(a));
}

std::vector<PositionView> Api::positions() { return engine_.positions(); }

StatusOr<std::vector<AlertRow>> Api::alerts(bool active_only, int limit) {
  auto alerts = store_.list_alerts(active_only, limit);
  if (!alerts.ok()) return alerts.status();
  std::vector<AlertRow> out;
  // A failing store cannot record the alert about itself: it is told from the engine's health
  // (id null, as the daemon's own lease_lost). Before, `orderly alerts` listed nothing and
  // exited 0 while every commit failed.
  if (Health h = health(); !h.store_ok) {
    out.push_back({.severity = AlertSeverity::critical,
                   .kind = "store_failing",
                   .subject = "store",
                   .message = "the store refuses writes; nothing new is recorded or sent: " +
                              h.store_error,
                   .raised_at = h.store_failing_since});
  }
  for (const auto& a : *alerts) out.push_back(alert_row(a));
  return out;
}

HealthReport Api::health_report() {
  HealthReport r{.health = health(), .now = clock_.now()};
  if (market_) r.market = market_();
  return r;
}

std::vector<OrderEvent> Api::events_since(std::int64_t after_seq, int limit) {
  auto events = store_.events_since(after_seq, limit);
  if (!events.ok()) return {};
  return std::move(*events);
}

}  // namespace orderly::server
