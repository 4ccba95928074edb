#pragma once
// The HTTP seam of the AlpacaBroker, wired straight to the exchange model in virtual time, with
// the observations the invariants need: every REST call is counted in a sliding virtual minute
// (I7), and every order submission is shown to a hook before the exchange sees it (I1: an order
// the broker already holds must never be sent again).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "broker/alpaca/transport.h"
#include "core/time.h"
#include "sim/exchange.h"
#include "trace.h"

namespace orderly::dst {

class SimTransport final : public alpaca::HttpTransport {
 public:
  // An answer slower than this is a client timeout after sending: the outcome is unknown.
  static constexpr std::int64_t kClientTimeoutMs = 5000;

  SimTransport(sim::Exchange& exchange, const Clock& clock, Trace& trace)
      : exchange_(exchange), clock_(clock), trace_(trace) {}

  alpaca::TransportResult send(const alpaca::HttpRequest& request) override;

  // Called with the client_order_id of every POST /v2/orders before it reaches the exchange.
  std::function<void(const std::string& cid)> on_submit;
  // Called with the body of every 40310000 "insufficient qty available" answer (I2). Alpaca also
  // answers 40310000 to a potential wash trade and to insufficient buying power: those refuse the
  // user's trade, counted apart (wash_trades(), no_buying_power()).
  std::function<void(const std::string& request, const std::string& body)> on_insufficient_qty;

  // A mutation of what reaches the broker, to show the harness catches it ("" none).
  //   no_exit_book: an exit placed again (a later generation: after the first ended, was
  //   canceled or refused) is refused (422) before the exchange sees it, as if nothing kept
  //   the position's exits working.
  std::string mutation;

  std::int64_t calls() const { return calls_; }
  std::int64_t max_calls_per_minute() const { return max_per_minute_; }
  std::int64_t lost_responses() const { return lost_; }
  std::int64_t timeouts() const { return timeouts_; }
  std::int64_t wash_trades() const { return wash_trades_; }
  std::int64_t no_buying_power() const { return no_buying_power_; }
  // When the engine last received the broker's positions: the freshest holdings it can know.
  std::optional<Timestamp> positions_read_at() const { return positions_read_at_; }

 private:
  sim::Exchange& exchange_;
  const Clock& clock_;
  Trace& trace_;
  std::deque<Timestamp> window_;  // call times within the last virtual minute
  std::int64_t calls_ = 0;
  std::int64_t max_per_minute_ = 0;
  std::int64_t lost_ = 0;
  std::int64_t timeouts_ = 0;
  std::int64_t wash_trades_ = 0;
  std::optional<Timestamp> positions_read_at_;
  std::int64_t no_buying_power_ = 0;
};

// The mutation "resubmit", in front of the SimTransport: what the incident's platform did. Every
// order the broker took is sent again under a fresh client id (`<cid>-m<n>`) with the first
// call made a second or more after it was taken, as a submitter that forgot the broker holds
// it would. The answer goes nowhere. The harness must find it (I1).
class ResubmitMutation final : public alpaca::HttpTransport {
 public:
  ResubmitMutation(std::shared_ptr<alpaca::HttpTransport> inner, const Clock& clock)
      : inner_(std::move(inner)), clock_(clock) {}

  alpaca::TransportResult send(const alpaca::HttpRequest& request) override;

 private:
  struct Taken {
    Timestamp at;
    alpaca::HttpRequest request;
  };
  std::shared_ptr<alpaca::HttpTransport> inner_;
  const Clock& clock_;
  std::deque<Taken> taken_;
  std::int64_t seq_ = 0;
};

// The client_order_id in a POST /v2/orders body ("" when absent).
std::string client_order_id_of(std::string_view body);

}  // namespace orderly::dst
