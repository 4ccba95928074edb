#include "sim/inprocess/inprocess_broker.h"

#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/stream_dispatch.h"

namespace orderly::sim {

alpaca::TransportResult InProcessTransport::send(const alpaca::HttpRequest& request) {
  if (observe) observe(request);
  sim::HttpCall call;
  call.method = request.method;
  call.target = request.target;
  call.headers = request.headers;
  call.body = request.body;
  sim::HttpReply reply = exchange_.handle(call);
  if (reply.fault == sim::HttpFault::lose_response) {
    ++lost_responses_;
    return alpaca::TransportError{true, "connection closed before a complete response "
                                        "(simulated lost response)"};
  }
  if (reply.delay_ms > 0) ++slow_responses_;
  alpaca::HttpResponse response;
  response.status = reply.status;
  response.headers = std::move(reply.headers);
  response.body = std::move(reply.body);
  response.read_ratelimit_headers();
  return response;
}

void InProcessStream::start(TradeUpdateHandler& handler) {
  handler_ = &handler;
  handler_->on_connected();
}

void InProcessStream::pump(Timestamp now) {
  if (handler_ == nullptr) return;
  if (exchange_.stream_disconnect_due(now)) {
    lost_in_disconnects_ += static_cast<std::int64_t>(exchange_.take_stream_messages(now).size());
    handler_->on_disconnected("simulated stream disconnect");
    handler_->on_connected();
    return;
  }
  for (auto& message : exchange_.take_stream_messages(now)) {
    if (handler_ == nullptr) return;  // a callback may stop the stream
    alpaca::dispatch_stream_frame(message.json, *handler_);
    ++delivered_;
  }
}

std::unique_ptr<Broker> make_inprocess_broker(sim::Exchange& exchange, const Clock& clock) {
  auto transport = std::make_shared<InProcessTransport>(exchange);
  // The simulator accepts any key pair when it was built without one.
  return std::make_unique<alpaca::AlpacaBroker>(
      std::move(transport), alpaca::AlpacaConfig{"inprocess://sim", "sim-key", "sim-secret"},
      &clock);
}

}  // namespace orderly::sim
