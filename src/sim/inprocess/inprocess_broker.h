#pragma once
// The real AlpacaBroker and trade_updates parsing over the in-process simulator (sim::Exchange),
// with no sockets: the engine, the demo and the deterministic simulation run the production
// adapter code under virtual time. Not thread-safe (like the Exchange): one driver calls it.

#include <cstdint>
#include <functional>
#include <memory>

#include "broker/alpaca/transport.h"
#include "broker/broker.h"
#include "core/time.h"
#include "sim/exchange.h"

namespace orderly::sim {

// HttpTransport that hands each request to Exchange::handle(). A `lose_response` fault becomes
// the error a real client sees: the request was applied, the answer never came (maybe sent).
class InProcessTransport final : public alpaca::HttpTransport {
 public:
  explicit InProcessTransport(sim::Exchange& exchange) : exchange_(exchange) {}
  alpaca::TransportResult send(const alpaca::HttpRequest& request) override;

  std::int64_t lost_responses() const { return lost_responses_; }
  std::int64_t slow_responses() const { return slow_responses_; }  // delay_ms > 0 (not waited)

  // Sees every request before the simulator answers it (tests count calls by kind and time).
  std::function<void(const alpaca::HttpRequest&)> observe;

 private:
  sim::Exchange& exchange_;
  std::int64_t lost_responses_ = 0;
  std::int64_t slow_responses_ = 0;
};

// trade_updates from Exchange::take_stream_messages(), delivered when the driver calls pump(),
// through the same frame parser as the WebSocket client.
class InProcessStream final : public TradeUpdateStream {
 public:
  explicit InProcessStream(sim::Exchange& exchange) : exchange_(exchange) {}

  // Fires on_connected inline (the subscription is immediate in-process).
  void start(TradeUpdateHandler& handler) override;
  void stop() override { handler_ = nullptr; }

  // Delivers the messages due at `now`. When the fault plan cuts the stream, the messages of the
  // outage are lost (Alpaca does not replay) and on_disconnected + on_connected fire.
  void pump(Timestamp now);

  std::int64_t delivered() const { return delivered_; }
  std::int64_t lost_in_disconnects() const { return lost_in_disconnects_; }

 private:
  sim::Exchange& exchange_;
  TradeUpdateHandler* handler_ = nullptr;
  std::int64_t delivered_ = 0;
  std::int64_t lost_in_disconnects_ = 0;
};

// AlpacaBroker over an InProcessTransport; `clock` turns 429 resets into waits.
std::unique_ptr<Broker> make_inprocess_broker(sim::Exchange& exchange, const Clock& clock);

}  // namespace orderly::sim
