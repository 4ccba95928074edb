// handle(): one REST call in, one reply out. Order of checks: statistics, auth, rate limit,
// HTTP faults, then the route. Every failure is an Alpaca-style JSON body; nothing throws out.
#include <algorithm>
#include <boost/url.hpp>
#include <charconv>
#include <cstdio>

#include "sim/exchange_impl.h"

namespace orderly::sim {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

// What a route handler answers: a status, an optional JSON body and the error code it carries.
struct Resp {
  int status = 200;
  std::optional<json::value> body;
  std::int64_t code = 0;
};

Resp ok(json::value v, int status = 200) { return Resp{status, std::move(v), 0}; }

Resp fail(const ApiError& e) {
  return Resp{e.http, json::value(ExchangeImpl::error_body(e)), e.code};
}

Resp fail(int http, std::int64_t code, std::string message) {
  return fail(ApiError{http, code, std::move(message), {}});
}

// Go's JSON decoding refuses a value of the wrong type for the whole body.
ApiError bad_body() { return ApiError{400, 40010000, "request body format is invalid", {}}; }

ApiError invalid(std::string message) { return ApiError{422, 40010001, std::move(message), {}}; }

const std::string* param(const Params& ps, std::string_view key) {
  for (const auto& [k, v] : ps) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<Decimal> json_decimal(const json::value& v) {
  if (v.is_string()) return Decimal::parse(v.as_string());
  if (v.is_int64()) {
    const std::int64_t i = v.as_int64();
    if (i > 9'000'000'000 || i < -9'000'000'000) return std::nullopt;
    return Decimal::from_int(i);
  }
  if (v.is_uint64()) {
    if (v.as_uint64() > 9'000'000'000ull) return std::nullopt;
    return Decimal::from_int(static_cast<std::int64_t>(v.as_uint64()));
  }
  if (v.is_double()) {
    // Clients may send numbers (§1); the shortest round-trip text is what the user typed.
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v.as_double());
    if (r.ec != std::errc()) return std::nullopt;
    return Decimal::parse(std::string_view(buf, r.ptr - buf));
  }
  return std::nullopt;
}

// Field readers: absent or null -> nullopt; wrong JSON type -> 400; bad decimal text -> 422.
using DecField = std::variant<std::optional<Decimal>, ApiError>;
using StrField = std::variant<std::optional<std::string>, ApiError>;

DecField get_decimal(const json::object& o, std::string_view key, std::string_view label = {}) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<Decimal>();
  const json::value& v = it->value();
  if (!v.is_string() && !v.is_number()) return bad_body();
  auto d = json_decimal(v);
  if (!d) {
    return invalid("invalid " + std::string(label.empty() ? key : label) + " " +
                   (v.is_string() ? "\"" + std::string(v.as_string()) + "\"" : json::serialize(v)));
  }
  return std::optional<Decimal>(*d);
}

StrField get_string(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) return bad_body();
  return std::optional<std::string>(std::string(it->value().as_string()));
}

#define SIM_TRY_DEC(var, obj, key, ...)                                   \
  std::optional<Decimal> var;                                             \
  {                                                                       \
    auto r_ = get_decimal(obj, key __VA_OPT__(, ) __VA_ARGS__);           \
    if (auto* e_ = std::get_if<ApiError>(&r_)) return *e_;                \
    var = std::get<std::optional<Decimal>>(r_);                           \
  }
#define SIM_TRY_STR(var, obj, key)                                        \
  std::optional<std::string> var;                                         \
  {                                                                       \
    auto r_ = get_string(obj, key);                                       \
    if (auto* e_ = std::get_if<ApiError>(&r_)) return *e_;                \
    var = std::get<std::optional<std::string>>(r_);                       \
  }

// §2.1: at most 2 decimals at or above $1.00, 4 below.
std::optional<ApiError> check_price(std::optional<Decimal> p, std::string_view field) {
  if (!p) return std::nullopt;
  if (!p->is_positive()) return invalid(std::string(field) + " must be > 0");
  if (p->round_to(Decimal::price_increment_for(*p), Rounding::half_even) != *p) {
    return ApiError{422, 42210000,
                    "invalid " + std::string(field) + " " + p->str() +
                        ". sub-penny increment does not fulfill minimum pricing criteria",
                    {}};
  }
  return std::nullopt;
}

// Exactly one of trail_price / trail_percent, positive; day or gtc; a simple order (§2.1).
std::optional<ApiError> check_trail(OrderRequest& r, std::optional<Decimal> price,
                                    std::optional<Decimal> percent) {
  if (price.has_value() == percent.has_value()) {
    return invalid("trailing_stop orders require exactly one of trail_price or trail_percent");
  }
  if (!(price ? *price : *percent).is_positive()) {
    return invalid(std::string(price ? "trail_price" : "trail_percent") + " must be > 0");
  }
  if (percent && *percent >= Decimal::from_int(100)) return invalid("trail_percent must be < 100");
  if (r.tif != "day" && r.tif != "gtc") return invalid("trailing_stop orders must be day or gtc");
  if (r.cls != OClass::simple) return invalid("trailing_stop orders must be simple orders");
  r.trail_price = price;
  r.trail_percent = percent;
  return std::nullopt;
}

constexpr std::size_t kClientOrderIdMax = 128;

std::optional<ApiError> check_client_order_id(const std::optional<std::string>& cid) {
  if (cid && cid->size() > kClientOrderIdMax) {
    return invalid("client_order_id must be no more than 128 characters");
  }
  return std::nullopt;
}

bool valid_tif(std::string_view t) {
  return t == "day" || t == "gtc" || t == "opg" || t == "cls" || t == "ioc" || t == "fok";
}

std::variant<OrderRequest, ApiError> parse_order_request(const json::object& o) {
  OrderRequest r;
  SIM_TRY_STR(symbol, o, "symbol");
  SIM_TRY_STR(side, o, "side");
  SIM_TRY_STR(type, o, "type");
  SIM_TRY_STR(tif, o, "time_in_force");
  SIM_TRY_STR(cls, o, "order_class");
  SIM_TRY_STR(cid, o, "client_order_id");
  SIM_TRY_STR(intent, o, "position_intent");
  SIM_TRY_DEC(qty, o, "qty");
  SIM_TRY_DEC(notional, o, "notional");
  SIM_TRY_DEC(limit, o, "limit_price");
  SIM_TRY_DEC(stop, o, "stop_price");
  SIM_TRY_DEC(trail_price, o, "trail_price");
  SIM_TRY_DEC(trail_percent, o, "trail_percent");
  if (auto it = o.find("extended_hours"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_bool()) return bad_body();
    r.extended_hours = it->value().as_bool();
  }
  if (!symbol || symbol->empty()) return invalid("symbol is required");
  r.symbol = *symbol;
  if (!side) return invalid("side is required");
  if (*side != "buy" && *side != "sell") return invalid("invalid side: " + *side);
  r.buy = *side == "buy";
  if (!type) return invalid("type is required");
  if (*type == "market") r.type = OType::market;
  else if (*type == "limit") r.type = OType::limit;
  else if (*type == "stop") r.type = OType::stop;
  else if (*type == "stop_limit") r.type = OType::stop_limit;
  else if (*type == "trailing_stop") r.type = OType::trailing_stop;
  else return invalid("invalid type: " + *type);
  if (!tif) return invalid("time_in_force is required");
  if (!valid_tif(*tif)) return invalid("invalid time_in_force: " + *tif);
  r.tif = *tif;
  if (!cls || cls->empty() || *cls == "simple") r.cls = OClass::simple;
  else if (*cls == "bracket") r.cls = OClass::bracket;
  else if (*cls == "oco") r.cls = OClass::oco;
  else if (*cls == "oto") r.cls = OClass::oto;
  else if (*cls == "mleg") return invalid("mleg orders are not supported by the simulator");
  else return invalid("invalid order_class: " + *cls);
  if (auto e = check_client_order_id(cid)) return *e;
  r.client_order_id = cid.value_or("");
  if (intent) {
    if (*intent != "buy_to_open" && *intent != "buy_to_close" && *intent != "sell_to_open" &&
        *intent != "sell_to_close") {
      return invalid("invalid position_intent: " + *intent);
    }
    r.position_intent = *intent;
  }
  if (qty && notional) return invalid("qty and notional are mutually exclusive");
  if (!qty && !notional) return invalid("qty or notional is required");
  // Fractional and notional rules depend on the asset (crypto differs): see place().
  if (qty) {
    if (!qty->is_positive()) return invalid("qty must be > 0");
    r.qty = qty;
  } else {
    if (!notional->is_positive()) return invalid("notional must be > 0");
    if (!r.buy) return invalid("notional sell orders are not supported by the simulator");
    r.notional = notional;
  }
  const bool needs_limit = r.type == OType::limit || r.type == OType::stop_limit;
  const bool needs_stop = r.type == OType::stop || r.type == OType::stop_limit;
  if (needs_limit && !limit && r.cls != OClass::oco) return invalid("limit_price is required");
  if (needs_stop && !stop) return invalid("stop_price is required");
  if (needs_limit) r.limit_price = limit;
  if (needs_stop) r.stop_price = stop;
  if (auto e = check_price(r.limit_price, "limit_price")) return *e;
  if (auto e = check_price(r.stop_price, "stop_price")) return *e;
  if (r.type == OType::trailing_stop) {
    if (auto e = check_trail(r, trail_price, trail_percent)) return *e;
  }
  if (r.extended_hours && !(r.type == OType::limit && (r.tif == "day" || r.tif == "gtc"))) {
    return invalid("extended hours order must be DAY limit orders");
  }

  if (r.cls != OClass::simple) {
    std::optional<Decimal> tp, sl_stop, sl_limit;
    if (auto it = o.find("take_profit"); it != o.end() && !it->value().is_null()) {
      if (!it->value().is_object()) return bad_body();
      SIM_TRY_DEC(v, it->value().as_object(), "limit_price", "take_profit.limit_price");
      tp = v;
    }
    if (auto it = o.find("stop_loss"); it != o.end() && !it->value().is_null()) {
      if (!it->value().is_object()) return bad_body();
      SIM_TRY_DEC(s, it->value().as_object(), "stop_price", "stop_loss.stop_price");
      SIM_TRY_DEC(l, it->value().as_object(), "limit_price", "stop_loss.limit_price");
      sl_stop = s;
      sl_limit = l;
    }
    const std::string name = r.cls == OClass::bracket ? "bracket"
                             : r.cls == OClass::oco   ? "oco"
                                                      : "oto";
    if (r.cls == OClass::oco && r.type != OType::limit)
      return invalid("oco orders must be limit orders");
    if (r.cls == OClass::bracket || r.cls == OClass::oco) {
      if (!tp) return invalid(name + " orders require take_profit.limit_price");
      if (!sl_stop) return invalid(name + " orders require stop_loss.stop_price");
    } else {
      if (!tp && !sl_stop) return invalid("oto orders require take_profit or stop_loss");
      if (tp && sl_stop)
        return invalid("oto orders take either take_profit or stop_loss, not both");
    }
    if (sl_limit && !sl_stop) return invalid("stop_loss.stop_price is required");
    if (r.tif != "day" && r.tif != "gtc") return invalid(name + " orders must be day or gtc");
    if (r.extended_hours) return invalid(name + " orders cannot be extended hours orders");
    if (auto e = check_price(tp, "take_profit.limit_price")) return *e;
    if (auto e = check_price(sl_stop, "stop_loss.stop_price")) return *e;
    if (auto e = check_price(sl_limit, "stop_loss.limit_price")) return *e;
    if (tp && sl_stop) {
      const bool exits_sell = r.cls == OClass::oco ? !r.buy : r.buy;
      if (exits_sell ? *tp <= *sl_stop : *tp >= *sl_stop) {
        return invalid(std::string("take_profit.limit_price must be ") +
                       (exits_sell ? "above" : "below") + " stop_loss.stop_price");
      }
    }
    r.tp_limit = tp;
    r.sl_stop = sl_stop;
    r.sl_limit = sl_limit;
    if (r.cls == OClass::oco) r.limit_price = tp;
  }
  return r;
}

std::variant<ReplaceRequest, ApiError> parse_replace_request(const json::object& o) {
  ReplaceRequest r;
  SIM_TRY_DEC(qty, o, "qty");
  SIM_TRY_DEC(limit, o, "limit_price");
  SIM_TRY_DEC(stop, o, "stop_price");
  SIM_TRY_DEC(trail, o, "trail");
  SIM_TRY_STR(tif, o, "time_in_force");
  SIM_TRY_STR(cid, o, "client_order_id");
  if (trail && !trail->is_positive()) return invalid("trail must be > 0");
  if (qty && (!qty->is_positive() || !qty->is_integer()))
    return invalid("qty must be a positive whole number");
  if (tif && !valid_tif(*tif)) return invalid("invalid time_in_force: " + *tif);
  if (auto e = check_client_order_id(cid)) return *e;
  if (auto e = check_price(limit, "limit_price")) return *e;
  if (auto e = check_price(stop, "stop_price")) return *e;
  if (cid && cid->empty()) cid.reset();
  r.qty = qty;
  r.limit_price = limit;
  r.stop_price = stop;
  r.trail = trail;
  r.tif = tif;
  r.client_order_id = cid;
  return r;
}

#undef SIM_TRY_DEC
#undef SIM_TRY_STR

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const std::string* header(const HttpCall& call, std::string_view name) {
  for (const auto& [k, v] : call.headers) {
    if (k.size() == name.size() && lower(k) == name) return &v;
  }
  return nullptr;
}

std::optional<Timestamp> parse_time_param(const std::string& s) {
  if (auto t = parse_rfc3339(s)) return t;
  if (s.size() == 10) return parse_rfc3339(s + "T00:00:00Z");  // a date: its midnight UTC
  return std::nullopt;
}

std::optional<long long> parse_int(const std::string& s) {
  long long v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view fault_message(int status) {
  switch (status) {
    case 429: return "rate limit exceeded";
    case 500: return "internal server error";
    case 502: return "bad gateway";
    case 503: return "service unavailable";
    case 504: return "gateway timeout";
    default: return "injected fault";
  }
}

// The route's template ("GET /v2/orders/{id}") and its path parameter, if any.
struct Route {
  std::string tmpl;
  std::string param;
};

Route route_of(std::string_view method, const std::vector<std::string>& seg) {
  const std::string m(method);
  const auto n = seg.size();
  auto is = [&](std::size_t i, std::string_view s) { return i < n && seg[i] == s; };
  if (n >= 1 && seg[0] == "sim" && n == 2) return {m + " /sim/" + seg[1], ""};
  if (!is(0, "v2")) return {m + " (unknown)", ""};
  if (n == 2) {
    if (seg[1] == "account" || seg[1] == "orders" || seg[1] == "positions" || seg[1] == "clock" ||
        seg[1] == "calendar" || seg[1] == "assets" || seg[1] == "orders:by_client_order_id") {
      return {m + " /v2/" + seg[1], ""};
    }
  }
  if (n == 3 && is(1, "orders")) return {m + " /v2/orders/{id}", seg[2]};
  if (n == 3 && is(1, "positions")) return {m + " /v2/positions/{symbol}", seg[2]};
  if (n == 3 && is(1, "assets")) return {m + " /v2/assets/{symbol}", seg[2]};
  if (n == 3 && is(1, "account") && is(2, "activities")) return {m + " /v2/account/activities", ""};
  if (n == 4 && is(1, "account") && is(2, "activities")) {
    return {m + " /v2/account/activities/{activity_type}", seg[3]};
  }
  return {m + " (unknown)", ""};
}

// The ActivityType enum of Alpaca's current specification.
constexpr std::string_view kActivityTypes[] = {
    "FILL", "TRANS", "MISC", "ACATC", "ACATS", "CFEE", "CGD", "CSD", "CSW", "DIV", "DIVCGL",
    "DIVCGS", "DIVFEE", "DIVFT", "DIVNRA", "DIVROC", "DIVTW", "DIVTXEX", "FEE", "INT", "INTNRA",
    "INTTW", "JNL", "JNLC", "JNLS", "MA", "NC", "OPASN", "OPCA", "OPCSH", "OPEXC", "OPEXP",
    "OPTRD", "PTC", "PTR", "REORG", "SPIN", "SPLIT", "FOPT"};

bool known_activity_type(std::string_view t) {
  return std::find(std::begin(kActivityTypes), std::end(kActivityTypes), t) !=
         std::end(kActivityTypes);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

namespace {

class Handler {
 public:
  Handler(ExchangeImpl& x, const HttpCall& call, Timestamp now) : x_(x), call_(call), now_(now) {}

  Resp dispatch(const Route& r, const Params& q, const json::value* body) {
    const std::string& t = r.tmpl;
    if (t == "GET /v2/account") return ok(x_.account_json());
    if (t == "POST /v2/orders") return post_order(body);
    if (t == "GET /v2/orders") return list_orders(q);
    if (t == "DELETE /v2/orders") return cancel_all();
    if (t == "GET /v2/orders:by_client_order_id") return by_client_id(q);
    if (t == "GET /v2/orders/{id}") return get_order(r.param, q);
    if (t == "DELETE /v2/orders/{id}") return cancel_order(r.param);
    if (t == "PATCH /v2/orders/{id}") return replace_order(r.param, body);
    if (t == "GET /v2/positions") return list_positions();
    if (t == "DELETE /v2/positions") return close_all(q);
    if (t == "GET /v2/positions/{symbol}") return get_position(r.param);
    if (t == "DELETE /v2/positions/{symbol}") return close_position(r.param, q);
    if (t == "GET /v2/account/activities") return activities(q, "");
    if (t == "GET /v2/account/activities/{activity_type}") return activities(q, r.param);
    if (t == "GET /v2/clock") return ok(x_.clock_json(now_));
    if (t == "GET /v2/calendar") return calendar(q);
    if (t == "GET /v2/assets/{symbol}") return get_asset(r.param);
    if (t == "GET /v2/assets") return list_assets();
    if (t == "POST /sim/prices") return post_prices(body);
    if (t == "POST /sim/assets") return post_assets(body);
    if (t == "GET /sim/prices") return get_prices();
    if (t == "POST /sim/faults") return post_faults();
    if (t == "GET /sim/stats") return ok(json::parse(x_.stats_json()));
    if (t == "POST /sim/session") return post_session(body);
    if (t == "GET /sim/session") return ok(x_.clock_json(now_));
    if (t.find("(unknown)") == std::string::npos) {
      return fail(405, 40510000, "method not allowed");
    }
    return fail(404, 40410000, "endpoint not found");
  }

 private:
  static bool flag(const Params& q, std::string_view key) {
    const std::string* v = param(q, key);
    return v && (*v == "true" || *v == "1");
  }

  Resp post_order(const json::value* body) {
    if (!body || !body->is_object()) return fail(bad_body());
    auto parsed = parse_order_request(body->as_object());
    if (auto* e = std::get_if<ApiError>(&parsed)) return fail(*e);
    auto placed = x_.place(std::get<OrderRequest>(parsed));
    if (auto* e = std::get_if<ApiError>(&placed)) return fail(*e);
    // Group orders answer with their legs (Lean.Brokerages.Alpaca PR #74 reads them).
    return ok(x_.order_json(*std::get<SimOrder*>(placed), true));
  }

  Resp list_orders(const Params& q) {
    enum class Which { open, closed, all } which = Which::open;
    if (const std::string* s = param(q, "status")) {
      if (*s == "open") which = Which::open;
      else if (*s == "closed") which = Which::closed;
      else if (*s == "all") which = Which::all;
      else return fail(invalid("invalid status: " + *s));
    }
    long long limit = 50;
    if (const std::string* s = param(q, "limit")) {
      auto v = parse_int(*s);
      if (!v || *v < 1) return fail(invalid("invalid limit: " + *s));
      limit = std::min<long long>(*v, 500);
    }
    std::optional<Timestamp> after, until;
    if (const std::string* s = param(q, "after")) {
      after = parse_time_param(*s);
      if (!after) return fail(invalid("invalid after: " + *s));
    }
    if (const std::string* s = param(q, "until")) {
      until = parse_time_param(*s);
      if (!until) return fail(invalid("invalid until: " + *s));
    }
    bool asc = false;
    if (const std::string* s = param(q, "direction")) {
      if (*s == "asc") asc = true;
      else if (*s != "desc") return fail(invalid("invalid direction: " + *s));
    }
    std::optional<bool> side_buy;
    if (const std::string* s = param(q, "side")) {
      if (*s == "buy") side_buy = true;
      else if (*s == "sell") side_buy = false;
      else return fail(invalid("invalid side: " + *s));
    }
    std::vector<std::string> symbols;
    if (const std::string* s = param(q, "symbols")) {
      std::string_view rest = *s;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view one = rest.substr(0, comma);
        if (!one.empty()) symbols.push_back(x_.resolve_symbol(one));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    const bool nested = flag(q, "nested");
    auto wanted = [&](const SimOrder& o) {
      if (which == Which::open && !o.open()) return false;
      if (which == Which::closed && o.open()) return false;
      return true;
    };
    const auto& index = which == Which::open ? x_.open_by_time_ : x_.all_by_time_;
    auto lo = index.begin();
    auto hi = index.end();
    if (after) lo = index.upper_bound({after->ns, UINT64_MAX});
    if (until) hi = index.lower_bound({until->ns, 0});
    json::array out(x_.sp_);
    auto consider = [&](const SimOrder& o) {
      if (!wanted(o)) return;
      if (side_buy && o.buy != *side_buy) return;
      if (!symbols.empty() && std::find(symbols.begin(), symbols.end(), o.symbol) == symbols.end())
        return;
      if (nested && !o.parent_id.empty()) {
        // A leg is shown inside its parent when the parent is listed too.
        SimOrder* parent = x_.find_order(o.parent_id);
        if (parent && wanted(*parent)) return;
      }
      out.emplace_back(x_.order_json(o, nested));
    };
    if (lo != index.end() && (hi == index.end() || lo->first < hi->first)) {
      if (asc) {
        for (auto it = lo; it != hi && static_cast<long long>(out.size()) < limit; ++it)
          consider(*it->second);
      } else {
        for (auto it = hi; it != lo && static_cast<long long>(out.size()) < limit;) {
          --it;
          consider(*it->second);
        }
      }
    }
    return ok(std::move(out));
  }

  Resp cancel_all() {
    std::vector<SimOrder*> open;
    for (auto& [k, o] : x_.open_by_time_) open.push_back(o);
    json::array out(x_.sp_);
    for (SimOrder* o : open) {
      json::object entry(x_.sp_);
      entry["id"] = o->id;
      if (o->status == St::pending_cancel) {
        entry["status"] = 200;  // already on its way out (a group member, or asked before)
      } else if (auto e = x_.cancel(*o)) {
        entry["status"] = e->http;
        entry["body"] = ExchangeImpl::error_body(*e);
      } else {
        entry["status"] = 200;
      }
      out.emplace_back(std::move(entry));
    }
    return ok(std::move(out), 207);
  }

  Resp by_client_id(const Params& q) {
    const std::string* cid = param(q, "client_order_id");
    if (!cid || cid->empty()) return fail(invalid("client_order_id is required"));
    SimOrder* o = x_.find_by_client_id(*cid);
    if (!o) return fail(404, 40410000, "order not found");
    return ok(x_.order_json(*o, flag(q, "nested")));
  }

  Resp get_order(const std::string& id, const Params& q) {
    SimOrder* o = x_.find_order(id);
    if (!o) return fail(404, 40410000, "order not found");
    return ok(x_.order_json(*o, flag(q, "nested")));
  }

  Resp cancel_order(const std::string& id) {
    SimOrder* o = x_.find_order(id);
    if (!o) return fail(404, 40410000, "order not found");
    if (auto e = x_.cancel(*o)) return fail(*e);
    return Resp{204, std::nullopt, 0};
  }

  Resp replace_order(const std::string& id, const json::value* body) {
    SimOrder* o = x_.find_order(id);
    if (!o) return fail(404, 40410000, "order not found");
    if (!body || !body->is_object()) return fail(bad_body());
    auto parsed = parse_replace_request(body->as_object());
    if (auto* e = std::get_if<ApiError>(&parsed)) return fail(*e);
    auto r = x_.replace(*o, std::get<ReplaceRequest>(parsed));
    if (auto* e = std::get_if<ApiError>(&r)) return fail(*e);
    return ok(x_.order_json(*std::get<SimOrder*>(r), false));
  }

  Resp list_positions() {
    json::array out(x_.sp_);
    for (const auto& [symbol, p] : x_.positions_) out.emplace_back(x_.position_json(symbol, p));
    return ok(std::move(out));
  }

  Resp get_position(const std::string& name) {
    const std::string symbol = x_.resolve_symbol(name);
    const Position* p = x_.position(symbol);
    if (!p) return fail(404, 40410000, "position does not exist");
    return ok(x_.position_json(symbol, *p));
  }

  // The closing market order for a position (qty=N or percentage=P, exclusive), or an error.
  std::variant<SimOrder*, ApiError> close(const std::string& name, const Params& q) {
    const std::string symbol = x_.resolve_symbol(name);
    const Position* p = x_.position(symbol);
    if (!p) return ApiError{404, 40410000, "position does not exist", {}};
    const std::string* qs = param(q, "qty");
    const std::string* ps = param(q, "percentage");
    if (qs && ps) return invalid("qty and percentage are mutually exclusive");
    const Decimal held = p->qty.abs();
    Decimal qty = held;
    if (qs) {
      auto v = Decimal::parse(*qs);
      if (!v || !v->is_positive()) return invalid("invalid qty: " + *qs);
      qty = *v;
    } else if (ps) {
      auto v = Decimal::parse(*ps);
      if (!v || !v->is_positive() || *v > Decimal::from_int(100)) {
        return invalid("invalid percentage: " + *ps);
      }
      qty = (held * *v).checked_div(Decimal::from_int(100), Rounding::down).value_or(Decimal());
      // Only a fractional position is closed fractionally (the specification's rule).
      if (held.is_integer()) qty = qty.round_to(Decimal::from_int(1), Rounding::down);
      if (!qty.is_positive()) return invalid("invalid percentage: " + *ps);
    }
    // A short closes with a buy; crypto takes gtc (it refuses day orders).
    OrderRequest r;
    r.symbol = symbol;
    r.buy = p->qty.is_negative();
    r.type = OType::market;
    r.tif = x_.book(symbol)->crypto ? "gtc" : "day";
    r.qty = qty;
    return x_.place(r);
  }

  Resp close_position(const std::string& symbol, const Params& q) {
    auto r = close(symbol, q);
    if (auto* e = std::get_if<ApiError>(&r)) return fail(*e);
    return ok(x_.order_json(*std::get<SimOrder*>(r), false));
  }

  Resp close_all(const Params& q) {
    std::vector<std::string> symbols;
    for (const auto& [symbol, p] : x_.positions_) symbols.push_back(symbol);
    if (flag(q, "cancel_orders")) {
      // Simplification: the cancels complete at once, so the closing sells find the shares free.
      std::vector<SimOrder*> open;
      for (auto& [k, o] : x_.open_by_time_) open.push_back(o);
      for (SimOrder* o : open) {
        if (o->open()) x_.cancel_now(*o, now_);
      }
    }
    json::array out(x_.sp_);
    for (const std::string& symbol : symbols) {
      json::object entry(x_.sp_);
      entry["symbol"] = symbol;
      auto r = close(symbol, {});
      if (auto* e = std::get_if<ApiError>(&r)) {
        entry["status"] = e->http;
        entry["body"] = ExchangeImpl::error_body(*e);
      } else {
        entry["status"] = 200;
        entry["body"] = x_.order_json(*std::get<SimOrder*>(r), false);
      }
      out.emplace_back(std::move(entry));
    }
    return ok(std::move(out), 207);
  }

  Resp activities(const Params& q, const std::string& path_type) {
    bool want_fill = false;
    if (!path_type.empty()) {
      if (!known_activity_type(path_type)) return fail(invalid("invalid activity type: " + path_type));
      want_fill = path_type == "FILL";
    } else if (const std::string* s = param(q, "activity_types")) {
      std::string_view rest = *s;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string one(rest.substr(0, comma));
        if (!known_activity_type(one)) return fail(invalid("invalid activity type: " + one));
        want_fill |= one == "FILL";
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else {
      want_fill = true;  // no filter: every type, and fills are the only kind we record
    }
    std::optional<Timestamp> after, until;
    if (const std::string* s = param(q, "date")) {
      auto d = s->size() == 10 ? parse_time_param(*s) : std::nullopt;
      if (!d) return fail(invalid("invalid date: " + *s));
      after = Timestamp{d->ns - 1};
      until = d->plus_ms(86'400'000);
    }
    if (const std::string* s = param(q, "after")) {
      after = parse_time_param(*s);
      if (!after) return fail(invalid("invalid after: " + *s));
    }
    if (const std::string* s = param(q, "until")) {
      until = parse_time_param(*s);
      if (!until) return fail(invalid("invalid until: " + *s));
    }
    bool asc = false;
    if (const std::string* s = param(q, "direction")) {
      if (*s == "asc") asc = true;
      else if (*s != "desc") return fail(invalid("invalid direction: " + *s));
    }
    long long page_size = 100;
    if (const std::string* s = param(q, "page_size")) {
      auto v = parse_int(*s);
      if (!v || *v < 1) return fail(invalid("invalid page_size: " + *s));
      page_size = std::min<long long>(*v, 100);
    }
    const std::string* token = param(q, "page_token");
    json::array out(x_.sp_);
    if (!want_fill) return ok(std::move(out));
    const auto& acts = x_.activities_;
    auto lo = acts.begin();
    auto hi = acts.end();
    if (after) lo = std::partition_point(lo, hi, [&](const Activity& a) { return a.time <= *after; });
    if (until) hi = std::partition_point(lo, hi, [&](const Activity& a) { return a.time < *until; });
    if (token && !token->empty()) {
      if (asc) lo = std::partition_point(lo, hi, [&](const Activity& a) { return a.id <= *token; });
      else hi = std::partition_point(lo, hi, [&](const Activity& a) { return a.id < *token; });
    }
    if (asc) {
      for (auto it = lo; it != hi && static_cast<long long>(out.size()) < page_size; ++it) {
        out.emplace_back(x_.activity_json(*it));
      }
    } else {
      for (auto it = hi; it != lo && static_cast<long long>(out.size()) < page_size;) {
        --it;
        out.emplace_back(x_.activity_json(*it));
      }
    }
    return ok(std::move(out));
  }

  Resp get_asset(const std::string& symbol) {
    SymbolBook* b = x_.book(x_.resolve_symbol(symbol));
    if (!b) return fail(404, 40410000, "asset not found");
    return ok(x_.asset_json(*b));
  }

  Resp list_assets() {
    json::array out(x_.sp_);
    for (const auto& [symbol, b] : x_.books_) out.emplace_back(x_.asset_json(b));
    return ok(std::move(out));
  }

  // {"GME":{"borrow_status":"hard_to_borrow"},"BRK.A":{"fractionable":false}}: sets the named
  // assets' flags (tradable, fractionable, shortable, easy_to_borrow, fractional_eh_enabled
  // booleans; status active/inactive; borrow_status; a pair's min_order_value, which is not
  // served), all checked before any is applied; answers those assets.
  Resp post_assets(const json::value* body) {
    if (!body || !body->is_object()) {
      return fail(400, 40010000, "body must be a JSON object of symbol to asset fields");
    }
    std::vector<std::pair<SymbolBook*, const json::object*>> changes;
    for (const auto& kv : body->as_object()) {
      const std::string symbol(kv.key());
      SymbolBook* b = x_.book(x_.resolve_symbol(symbol));
      if (!b) return fail(404, 40410000, "asset not found: " + symbol);
      if (!kv.value().is_object()) {
        return fail(invalid("fields of " + symbol + " must be an object"));
      }
      for (const auto& f : kv.value().as_object()) {
        if (!asset_field_ok(f.key(), f.value())) {
          return fail(invalid("invalid asset field for " + symbol + ": " + std::string(f.key())));
        }
      }
      changes.emplace_back(b, &kv.value().as_object());
    }
    json::array out(x_.sp_);
    for (auto& [b, fields] : changes) {
      for (const auto& f : *fields) set_asset_field(*b, f.key(), f.value());
      out.emplace_back(x_.asset_json(*b));
    }
    return ok(std::move(out));
  }

  static bool asset_field_ok(std::string_view key, const json::value& v) {
    if (key == "status") {
      return v.is_string() && (v.as_string() == "active" || v.as_string() == "inactive");
    }
    if (key == "borrow_status") {
      return v.is_string() &&
             (v.as_string() == "easy_to_borrow" || v.as_string() == "hard_to_borrow");
    }
    if (key == "min_order_value") {
      auto d = json_decimal(v);
      return d && !d->is_negative();
    }
    return v.is_bool() && (key == "tradable" || key == "fractionable" || key == "shortable" ||
                           key == "easy_to_borrow" || key == "fractional_eh_enabled");
  }

  static void set_asset_field(SymbolBook& b, std::string_view key, const json::value& v) {
    if (key == "status") b.active = v.as_string() == "active";
    else if (key == "borrow_status") b.easy_to_borrow = v.as_string() == "easy_to_borrow";
    else if (key == "tradable") b.tradable = v.as_bool();
    else if (key == "fractionable") b.fractionable = v.as_bool();
    else if (key == "shortable") b.shortable = v.as_bool();
    else if (key == "easy_to_borrow") b.easy_to_borrow = v.as_bool();
    else if (key == "fractional_eh_enabled") b.fractional_eh = v.as_bool();
    else if (key == "min_order_value") b.min_order_value = *json_decimal(v);
  }

  Resp post_prices(const json::value* body) {
    if (!body || !body->is_object()) {
      return fail(400, 40010000, "body must be a JSON object of symbol to price");
    }
    std::map<std::string, Decimal> prices;
    for (const auto& kv : body->as_object()) {
      const std::string symbol(kv.key());
      if (symbol.empty() || symbol.size() > 32) return fail(invalid("invalid symbol: " + symbol));
      auto d = json_decimal(kv.value());
      if (!d || !d->is_positive()) return fail(invalid("invalid price for " + symbol));
      prices[symbol] = *d;
    }
    x_.set_prices(prices);
    return get_prices();
  }

  Resp get_prices() {
    json::object out(x_.sp_);
    for (const auto& [symbol, b] : x_.books_) out[symbol] = b.price.str();
    return ok(std::move(out));
  }

  // {"event":"close"} / {"event":"open"}: answers with the clock as it now reads.
  Resp post_session(const json::value* body) {
    const json::value* event =
        body && body->is_object() ? body->as_object().if_contains("event") : nullptr;
    if (!event || !event->is_string() ||
        (event->as_string() != "open" && event->as_string() != "close")) {
      return fail(400, 40010000, "body must be {\"event\":\"open\"} or {\"event\":\"close\"}");
    }
    x_.session(event->as_string() == "open" ? SessionEvent::open : SessionEvent::close);
    x_.advance(now_);  // queued orders go out (and fill) at the open without waiting for a tick
    return ok(x_.clock_json(now_));
  }

  // start/end: YYYY-MM-DD or RFC3339 (its date); default today to 30 days on; at most 10 years.
  Resp calendar(const Params& q) {
    auto day_param = [&](std::string_view key,
                         std::int64_t fallback) -> std::optional<std::int64_t> {
      const std::string* s = param(q, key);
      if (!s) return fallback;
      return parse_date(std::string_view(*s).substr(0, 10));
    };
    const std::int64_t today = et_day_of(now_);
    const auto start = day_param("start", today);
    if (!start) return fail(invalid("invalid start: " + *param(q, "start")));
    const auto end = day_param("end", *start + 30);
    if (!end) return fail(invalid("invalid end: " + *param(q, "end")));
    if (*end - *start > 3660) return fail(invalid("calendar range is limited to 10 years"));
    return ok(x_.calendar_json(*start, *end));
  }

  Resp post_faults() {
    std::string e = x_.set_faults_json(call_.body);
    if (!e.empty()) return fail(400, 40010000, e);
    json::object out(x_.sp_);
    out["rules"] = x_.plan_.rules.size();
    return ok(std::move(out));
  }

  ExchangeImpl& x_;
  const HttpCall& call_;
  Timestamp now_;
};

}  // namespace

HttpReply ExchangeImpl::handle(const HttpCall& call) {
  // One arena per call: the JSON tree of a reply dies with the call, and glibc malloc under
  // millions of live orders made per-node allocation the dominant cost.
  CallArena<16384> arena(sp_);
  return handle_in_arena(call);
}

HttpReply ExchangeImpl::handle_in_arena(const HttpCall& call) {
  const Timestamp now = clock_.now();
  HttpReply reply;
  Resp resp;
  std::string route_key = call.method + " (unknown)";
  bool lose = false;
  std::int64_t delay_ms = 0;
  RateWindow* window = nullptr;  // this key's rate window, when a limit applies
  try {
    auto parsed = boost::urls::parse_origin_form(call.target);
    std::vector<std::string> segments;
    Params q;
    if (parsed) {
      for (auto seg : parsed->segments()) segments.push_back(seg);
      for (auto p : parsed->params()) q.emplace_back(p.key, p.value);
    }
    const Route route = parsed ? route_of(call.method, segments) : Route{route_key, ""};
    route_key = route.tmpl;
    // X-Sim-Control: a test harness reading the book (or acting as another client) beside the
    // client under test, without taking that client's rate budget or drawing from the fault plan.
    const bool control =
        (!segments.empty() && segments[0] == "sim") || header(call, "x-sim-control") != nullptr;
    [&] {
      if (!parsed) {
        resp = fail(400, 40010000, "invalid request target");
        return;
      }
      if (!control) {
        if (config_.key_id && config_.secret_key) {
          const std::string* k = header(call, "apca-api-key-id");
          const std::string* s = header(call, "apca-api-secret-key");
          if (!k || !s || !check_credentials(*k, *s)) {
            resp = fail(401, 40110000, "request is not authorized");
            return;
          }
        }
        if (config_.rate_limit_per_min > 0) {
          const std::string* k = header(call, "apca-api-key-id");
          // Any key is let in when none is configured: bound the table against key churn.
          if (rate_windows_.size() >= 4096) rate_windows_.clear();
          window = &rate_windows_[k ? *k : std::string()];
          if (!window->started || now.ms_since(window->start) >= 60'000) {
            *window = RateWindow{now, 0, true};
          }
          if (++window->count > config_.rate_limit_per_min) {
            resp = fail(429, 42910000, "rate limit exceeded");
            return;
          }
        }
      }
      if (static_cast<std::int64_t>(call.body.size()) > config_.max_body_bytes) {
        resp = fail(400, 40010000, "request body too large");
        return;
      }
      std::optional<json::value> body;
      if (!call.body.empty()) {
        boost::system::error_code ec;
        json::value v = json::parse(call.body, ec, sp_);
        if (ec) {
          resp = fail(bad_body());
          return;
        }
        body = std::move(v);
      }
      if (!control) {
        std::string symbol = route.tmpl.find("{symbol}") != std::string::npos ? route.param : "";
        if (symbol.empty() && body && body->is_object()) {
          if (auto* s = body->as_object().if_contains("symbol"); s && s->is_string()) {
            symbol = std::string(s->as_string());
          }
        }
        std::string concrete = call.method + " /";
        for (std::size_t i = 0; i < segments.size(); ++i) concrete += (i ? "/" : "") + segments[i];
        for (const FaultRule& r : plan_.rules) {
          if (r.on != FaultOn::http) continue;
          if (r.route && !route_matches(*r.route, route.tmpl, concrete)) continue;
          if (r.symbol && *r.symbol != symbol) continue;
          if (!fault_rng_.chance(r.p)) continue;
          count_fault(r.action);
          if (r.action == FaultAction::status) {
            // Answered without applying the request.
            const std::int64_t code = r.status == 429 ? 42910000 : r.status * 100000LL + 10000;
            resp = fail(r.status, code, std::string(fault_message(r.status)));
            return;
          }
          if (r.action == FaultAction::slow) delay_ms += r.delay_ms;
          if (r.action == FaultAction::lose_response) lose = true;
        }
      }
      resp = Handler(*this, call, now).dispatch(route, q, body ? &*body : nullptr);
    }();
  } catch (const std::exception&) {
    resp = fail(500, 50010000, "internal server error");
  }
  ++request_counts_[route_key];
  ++response_counts_[std::to_string(resp.status)];
  if (resp.code != 0) ++error_counts_[std::to_string(resp.code)];
  reply.status = resp.status;
  if (resp.body) {
    reply.body = json::serialize(*resp.body);
    reply.headers.emplace_back("Content-Type", "application/json; charset=UTF-8");
  }
  if (window) {
    const int limit = config_.rate_limit_per_min;
    reply.headers.emplace_back("X-Ratelimit-Limit", std::to_string(limit));
    reply.headers.emplace_back("X-Ratelimit-Remaining",
                               std::to_string(std::max(0, limit - window->count)));
    reply.headers.emplace_back("X-Ratelimit-Reset",
                               std::to_string(window->start.plus_ms(60'000).ns / 1'000'000'000));
  }
  reply.fault = lose ? HttpFault::lose_response : HttpFault::none;
  reply.delay_ms = delay_ms;
  return reply;
}

std::unique_ptr<Exchange> make_exchange(const SimConfig& config, const Clock& clock) {
  return std::make_unique<ExchangeImpl>(config, clock);
}

}  // namespace orderly::sim
