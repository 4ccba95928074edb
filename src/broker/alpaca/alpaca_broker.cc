#include "broker/alpaca/alpaca_broker.h"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <fmt/format.h>

#include <string>

#include "broker/alpaca/json.h"

namespace orderly::alpaca {
namespace {

std::string encode(std::string_view s) {
  return boost::urls::encode(boost::core::string_view(s.data(), s.size()),
                             boost::urls::unreserved_chars);
}

std::string_view list_status(OrderListStatus s) {
  switch (s) {
    case OrderListStatus::open: return "open";
    case OrderListStatus::closed: return "closed";
    case OrderListStatus::all: return "all";
  }
  return "open";
}


// A short, printable excerpt of a body for messages (a huge HTML error page is not a message).
std::string excerpt(std::string_view body) {
  constexpr std::size_t kMax = 200;
  std::string out;
  for (char c : body.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  if (body.size() > kMax) out += "...";
  return out;
}

template <typename T>
BrokerResult<T> malformed_response(const HttpResponse& r, std::string_view method,
                                   const Status& why) {
  // A 2xx we cannot read: the broker answered, so it is reachable, but we do not know what it
  // did. For a write that means "resolve by lookup before re-sending"; for a read, ask again.
  BrokerError e;
  e.kind = BrokerError::Kind::unreadable;
  e.http_status = r.status;
  e.message = fmt::format("unreadable answer to {}: {}", method, why.message());
  e.body = r.body;
  return e;
}

}  // namespace

std::string list_orders_target(const ListOrdersQuery& q) {
  std::string t = fmt::format("/v2/orders?status={}&limit={}&direction={}", list_status(q.status),
                              q.limit, q.ascending ? "asc" : "desc");
  if (q.after) t += "&after=" + encode(format_rfc3339(*q.after));
  if (q.until) t += "&until=" + encode(format_rfc3339(*q.until));
  if (q.nested) t += "&nested=true";
  if (!q.symbols.empty()) {
    std::string joined;
    for (const auto& s : q.symbols) joined += (joined.empty() ? "" : ",") + s;
    t += "&symbols=" + encode(joined);
  }
  return t;
}

std::string fill_activities_target(const ActivityQuery& q) {
  std::string t = fmt::format("/v2/account/activities/FILL?direction={}&page_size={}",
                              q.ascending ? "asc" : "desc", q.page_size);
  if (q.after) t += "&after=" + encode(format_rfc3339(*q.after));
  if (q.page_token) t += "&page_token=" + encode(*q.page_token);
  return t;
}

AlpacaBroker::AlpacaBroker(std::shared_ptr<HttpTransport> transport, AlpacaConfig config,
                           const Clock* clock)
    : transport_(std::move(transport)), config_(std::move(config)), clock_(clock) {}

BrokerError AlpacaBroker::scrub(BrokerError e) const {
  e.message = redact(e.message, config_);
  e.body = redact(e.body, config_);
  return e;
}

BrokerError AlpacaBroker::classify_status(const HttpResponse& r) const {
  BrokerError e;
  e.http_status = r.status;
  e.body = r.body;
  auto parsed = parse_error_body(r.body);
  if (parsed.ok()) {
    e.code = parsed->code;
    e.message = parsed->message;
    e.insufficient_qty = std::move(parsed->insufficient_qty);
  }
  if (e.message.empty()) {
    e.message = r.body.empty() ? fmt::format("HTTP {} without a body", r.status)
                               : fmt::format("HTTP {}: {}", r.status, excerpt(r.body));
  }
  if (r.status == 429) {
    // Over Alpaca's 200/minute. Nothing was done, most likely, but the contract is strict:
    // a write that got 429 is resolved by lookup like any other unknown outcome.
    e.kind = BrokerError::Kind::unknown_outcome;
    if (r.ratelimit_reset_s) {
      const std::int64_t now_ms = clock_ ? clock_->now().ms() : SystemClock().now().ms();
      e.retry_after_ms = std::max<std::int64_t>(0, *r.ratelimit_reset_s * 1000 - now_ms);
    } else if (auto s = r.header_int("Retry-After")) {
      e.retry_after_ms = std::max<std::int64_t>(0, *s * 1000);
    }
  } else if (r.status >= 400 && r.status < 500) {
    e.kind = BrokerError::Kind::rejected;
  } else {
    // 5xx: the server may have acted. 1xx/3xx: not Alpaca's behaviour; do not assume a "no".
    e.kind = BrokerError::Kind::unknown_outcome;
  }
  return e;
}

std::variant<HttpResponse, BrokerError> AlpacaBroker::call(std::string method, std::string target,
                                                           std::string body) {
  HttpRequest req;
  req.method = std::move(method);
  req.target = std::move(target);
  // Hyphens, not underscores: APCA_API_KEY_ID as a header name gets 403 "forbidden." (#228).
  req.headers.emplace_back("APCA-API-KEY-ID", config_.key_id);
  req.headers.emplace_back("APCA-API-SECRET-KEY", config_.secret_key);
  req.headers.emplace_back("Accept", "application/json");
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);

  TransportResult result = transport_->send(req);
  if (!result.ok()) {
    BrokerError e;
    e.kind = result.error().maybe_sent ? BrokerError::Kind::unknown_outcome
                                       : BrokerError::Kind::not_sent;
    e.message = fmt::format("{} {}: {}", req.method, req.target, result.error().message);
    return scrub(std::move(e));
  }
  HttpResponse& r = result.value();
  if (r.ratelimit_limit && *r.ratelimit_limit > 0 && *r.ratelimit_limit <= INT32_MAX) {
    stated_rate_limit_.store(static_cast<int>(*r.ratelimit_limit), std::memory_order_relaxed);
  }
  note_rate_room(r);
  if (r.status >= 200 && r.status < 300) return std::move(r);
  BrokerError e = classify_status(r);
  e.message = fmt::format("{} {}: {}", req.method, req.target, e.message);
  return scrub(std::move(e));
}

namespace {

// Runs one call and maps its 2xx body with `parse`.
template <typename T, typename Call, typename Parse>
BrokerResult<T> run(Call&& call_result, std::string_view method, Parse&& parse) {
  if (auto* e = std::get_if<BrokerError>(&call_result)) return std::move(*e);
  const auto& r = std::get<HttpResponse>(call_result);
  auto parsed = parse(r.body);
  if (!parsed.ok()) return malformed_response<T>(r, method, parsed.status());
  return std::move(parsed.value());
}

// One order; legs that cannot be read are skipped and reported with the result.
BrokerResult<BrokerOrder> run_order(std::variant<HttpResponse, BrokerError> call_result,
                                    std::string_view method) {
  std::vector<UnreadableItem> skipped;
  BrokerResult<BrokerOrder> out = run<BrokerOrder>(
      std::move(call_result), method, [&](std::string_view body) { return parse_order(body, &skipped); });
  out.unreadable() = std::move(skipped);
  return out;
}

// A listing: the elements read, with the skipped ones reported alongside.
template <typename T, typename Parse>
BrokerResult<std::vector<T>> run_listing(std::variant<HttpResponse, BrokerError> call_result,
                                         std::string_view method, Parse&& parse) {
  std::vector<UnreadableItem> skipped;
  BrokerResult<std::vector<T>> out =
      run<std::vector<T>>(std::move(call_result), method,
                          [&](std::string_view body) -> StatusOr<std::vector<T>> {
                            auto listing = parse(body);
                            if (!listing.ok()) return listing.status();
                            skipped = std::move(listing->unreadable);
                            return std::move(listing->items);
                          });
  out.unreadable() = std::move(skipped);
  return out;
}

}  // namespace

BrokerResult<BrokerOrder> AlpacaBroker::submit_order(const OrderRequest& request) {
  return run_order(call("POST", "/v2/orders", serialize_order_request(request)), "POST");
}

BrokerResult<BrokerOrder> AlpacaBroker::get_order(std::string_view id) {
  // nested=true: a bracket/OCO parent then carries its legs, whose ids the engine needs when
  // the submit reply that would have listed them was lost.
  return run_order(call("GET", "/v2/orders/" + encode(id) + "?nested=true"), "GET");
}

BrokerResult<BrokerOrder> AlpacaBroker::get_order_by_client_id(std::string_view cid) {
  return run_order(call("GET", "/v2/orders:by_client_order_id?client_order_id=" + encode(cid)),
                   "GET");
}

BrokerResult<std::vector<BrokerOrder>> AlpacaBroker::list_orders(const ListOrdersQuery& query) {
  return run_listing<BrokerOrder>(call("GET", list_orders_target(query)), "GET", parse_orders);
}

BrokerResult<Unit> AlpacaBroker::cancel_order(std::string_view id) {
  // 204 without a body: the cancel request is accepted; the cancel itself comes on the stream.
  auto r = call("DELETE", "/v2/orders/" + encode(id));
  if (auto* e = std::get_if<BrokerError>(&r)) return std::move(*e);
  return Unit{};
}

BrokerResult<std::vector<CancelResult>> AlpacaBroker::cancel_all_orders() {
  return run<std::vector<CancelResult>>(call("DELETE", "/v2/orders"), "DELETE",
                                        [](std::string_view body) -> StatusOr<std::vector<CancelResult>> {
                                          if (body.empty()) return std::vector<CancelResult>{};
                                          return parse_cancel_all(body);
                                        });
}

BrokerResult<BrokerOrder> AlpacaBroker::replace_order(std::string_view id,
                                                      const ReplaceRequest& request) {
  return run_order(call("PATCH", "/v2/orders/" + encode(id), serialize_replace_request(request)),
                   "PATCH");
}

BrokerResult<std::vector<BrokerPosition>> AlpacaBroker::list_positions() {
  return run_listing<BrokerPosition>(call("GET", "/v2/positions"), "GET", parse_positions);
}

BrokerResult<Account> AlpacaBroker::get_account() {
  return run<Account>(call("GET", "/v2/account"), "GET", parse_account);
}

BrokerResult<ActivityPage> AlpacaBroker::fill_activities(const ActivityQuery& query) {
  std::vector<UnreadableItem> skipped;
  BrokerResult<ActivityPage> out = run<ActivityPage>(
      call("GET", fill_activities_target(query)), "GET",
      [&](std::string_view body) -> StatusOr<ActivityPage> {
        auto list = parse_fill_activities(body);
        if (!list.ok()) return list.status();
        ActivityPage page;
        // A full page means more may follow, skipped elements included.
        page.more = static_cast<int>(list->elements) >= query.page_size;
        page.last_id = std::move(list->last_id);
        page.activities = std::move(list->items);
        skipped = std::move(list->unreadable);
        return page;
      });
  out.unreadable() = std::move(skipped);
  return out;
}

BrokerResult<MarketClock> AlpacaBroker::get_clock() {
  return run<MarketClock>(call("GET", "/v2/clock"), "GET", parse_clock);
}

// A pair is asked for without its slash ("BTCUSD"): Alpaca still takes the legacy form, and a
// slash in the path would split it.
BrokerResult<AssetRules> AlpacaBroker::get_asset(std::string_view symbol) {
  std::string path(symbol);
  std::erase(path, '/');
  return run<AssetRules>(call("GET", "/v2/assets/" + encode(path)), "GET", parse_asset);
}

BrokerResult<std::vector<AssetRules>> AlpacaBroker::list_assets(std::string_view asset_class) {
  return run<std::vector<AssetRules>>(
      call("GET", "/v2/assets?status=active&asset_class=" + encode(std::string(asset_class))),
      "GET", parse_assets);
}

// Answers of one minute may arrive out of order: its lowest remaining is the latest truth, and
// an answer of an older minute (an earlier reset) says nothing of the current one.
void AlpacaBroker::note_rate_room(const HttpResponse& r) {
  if (!r.ratelimit_limit || !r.ratelimit_remaining || !r.ratelimit_reset_s) return;
  const RateRoom seen{*r.ratelimit_limit, *r.ratelimit_remaining, *r.ratelimit_reset_s};
  std::lock_guard lk(room_mu_);
  if (room_ && seen.reset_unix_s < room_->reset_unix_s) return;
  if (room_ && seen.reset_unix_s == room_->reset_unix_s && seen.remaining >= room_->remaining) {
    return;
  }
  room_ = seen;
}

std::optional<RateRoom> AlpacaBroker::rate_room() const {
  std::lock_guard lk(room_mu_);
  return room_;
}

std::optional<int> AlpacaBroker::stated_rate_limit() const {
  const int v = stated_rate_limit_.load(std::memory_order_relaxed);
  return v > 0 ? std::optional<int>(v) : std::nullopt;
}

}  // namespace orderly::alpaca
