#pragma once
// The simulated exchange, without IO. It speaks Alpaca's wire format (HTTP method + target +
// headers + JSON body in, status + headers + JSON body out; trade_updates messages as JSON text),
// so the very same client code runs against it in-process (virtual time, DST, demo) and over
// real HTTP/WebSocket (`orderly sim`, see server/).
//
// Thread-compatibility: not thread-safe; the server serialises calls on one strand.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/decimal.h"
#include "core/time.h"

namespace orderly::sim {

// A market session boundary, driven by the caller (tests, DST, `POST /sim/session`).
enum class SessionEvent { open, close };

struct SimConfig {
  std::uint64_t seed = 1;
  Decimal cash = Decimal::from_int(100'000);
  // 0: prices stay where they are set; otherwise a seeded random walk step every tick_ms.
  std::int64_t tick_ms = 0;
  bool regular_hours_only = false;  // market always open by default
  bool partial_fills = false;       // fill marketable orders in random lots
  std::optional<std::string> key_id;  // when set, requests must carry these credentials
  std::optional<std::string> secret_key;
  // Short selling of easy-to-borrow equities, as on a paper margin account. `orderly sim` turns it
  // on (--no-short turns it off); in-process users opt in, so existing runs keep their refusals.
  bool shorting = false;
  int rate_limit_per_min = 200;  // 0 disables; over it: 429 + X-Ratelimit-* headers
  // Crypto fee, taken from what a fill delivers (coins on a buy, dollars on a sell): Alpaca's
  // taker fee at its first volume tier is 0.25%, the highest of its schedule.
  Decimal crypto_fee_rate = Decimal::must("0.0025");
  // A crypto pair's price_increment (its asset's, and what its orders' prices must be multiples
  // of) instead of the built-in one, the cent: Alpaca's docs show "1" for BTC/USD in an example.
  std::map<std::string, Decimal> crypto_price_increments;
  std::int64_t max_body_bytes = 1 << 20;
};

struct HttpCall {
  std::string method;  // "GET", "POST", "PATCH", "DELETE"
  std::string target;  // path + query, e.g. "/v2/orders?status=open&limit=500"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// What the transport must do with a call, decided by the fault plan.
enum class HttpFault { none, lose_response /* applied, then close without reply */ };

struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  HttpFault fault = HttpFault::none;
  std::int64_t delay_ms = 0;  // "slow" fault: answer after this long
};

// A trade_updates message ready to send, with any delivery fault decided by the plan.
struct StreamMessage {
  std::string json;           // {"stream":"trade_updates","data":{...}}
  Timestamp deliver_at;       // "delay" fault: not before this time
};

class Exchange {
 public:
  virtual ~Exchange() = default;

  // One REST request. Applies the fault plan (status/slow/lose_response) and rate limit.
  virtual HttpReply handle(const HttpCall& call) = 0;

  // Advances the model to `now` (random walk, matching, day rollover). Call often.
  virtual void advance(Timestamp now) = 0;

  // trade_updates messages produced since the last call, after stream faults (drop, duplicate,
  // reorder, delay). Messages whose deliver_at is in the future are kept until it passes.
  virtual std::vector<StreamMessage> take_stream_messages(Timestamp now) = 0;
  // True when the fault plan says the stream should be cut now ("disconnect every_s").
  virtual bool stream_disconnect_due(Timestamp now) = 0;

  // Control (the /sim/... routes): set prices, replace the fault plan (JSON per DESIGN.md),
  // statistics as the /sim/stats JSON document.
  virtual void set_prices(const std::map<std::string, Decimal>& prices) = 0;
  virtual std::string set_faults_json(std::string_view json) = 0;  // "" ok, else error text
  virtual std::string stats_json() const = 0;

  // A session boundary (the /sim/session route). At a close every open day order expires (bracket
  // and OCO legs included, stream `expired`) and gtc orders stay; while closed, new equity orders
  // wait in `accepted` and nothing fills until the next open; crypto trades on. The first event
  // takes over from the clock (SimConfig::regular_hours_only) for the rest of the run.
  virtual void session(SessionEvent event) { (void)event; }
  // True while equities trade: the last session event, else the clock.
  virtual bool market_open() const { return true; }

  // Stream authentication for the server: true when no key pair is configured, or when this is
  // the configured pair. (Added for the WebSocket `authenticate` action; the default denies.)
  virtual bool check_credentials(std::string_view key_id, std::string_view secret_key) const {
    (void)key_id;
    (void)secret_key;
    return false;
  }
};

std::unique_ptr<Exchange> make_exchange(const SimConfig& config, const Clock& clock);

}  // namespace orderly::sim
