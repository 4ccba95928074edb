#include "sim_transport.h"

#include <fmt/format.h>

#include "core/ids.h"

namespace orderly::dst {

std::string client_order_id_of(std::string_view body) {
  constexpr std::string_view key = "\"client_order_id\":\"";
  auto at = body.find(key);
  if (at == std::string_view::npos) return {};
  at += key.size();
  auto end = body.find('"', at);
  if (end == std::string_view::npos) return {};
  return std::string(body.substr(at, end - at));
}

namespace {

// An exit placed again after the trade's first one of that role ended, was canceled or refused.
bool replaces_an_exit(const std::string& cid) {
  auto parts = parse_client_order_id(cid);
  return parts && parts->role != OrderRole::entry && parts->generation > 0;
}

}  // namespace

alpaca::TransportResult SimTransport::send(const alpaca::HttpRequest& request) {
  const Timestamp now = clock_.now();
  ++calls_;
  window_.push_back(now);
  while (!window_.empty() && now.ms_since(window_.front()) >= 60'000) window_.pop_front();
  max_per_minute_ =
      std::max<std::int64_t>(max_per_minute_, static_cast<std::int64_t>(window_.size()));

  const std::string_view path =
      std::string_view(request.target).substr(0, request.target.find('?'));
  const bool is_submit = request.method == "POST" && path == "/v2/orders";
  if (is_submit && on_submit) on_submit(client_order_id_of(request.body));

  sim::HttpCall call{request.method, request.target, request.headers, request.body};
  sim::HttpReply reply;
  if (is_submit && mutation == "no_exit_book" &&
      replaces_an_exit(client_order_id_of(request.body))) {
    reply.status = 422;
    reply.body = R"({"code":42210000,"message":"dst mutation no_exit_book: exit not re-placed"})";
  } else {
    reply = exchange_.handle(call);
  }
  std::string what = fmt::format("http {} {} -> {}", request.method, request.target, reply.status);
  if (is_submit) what += " cid=" + client_order_id_of(request.body);
  if (reply.fault == sim::HttpFault::lose_response) {
    ++lost_;
    trace_.add(what + " (response lost)");
    return alpaca::TransportError{true, "connection closed before the response (dst)"};
  }
  if (reply.delay_ms >= kClientTimeoutMs) {
    ++timeouts_;
    trace_.add(what + fmt::format(" (slow {} ms: client timeout)", reply.delay_ms));
    return alpaca::TransportError{true, "timed out waiting for the response (dst)"};
  }
  if (reply.status >= 400) {
    what += " " + reply.body.substr(0, 300);
    if (reply.body.find("40310000") != std::string::npos) {
      if (reply.body.find("wash trade") != std::string::npos) {
        ++wash_trades_;
      } else if (reply.body.find("insufficient buying power") != std::string::npos) {
        ++no_buying_power_;  // the scenario may spend the cash: refused, nothing held
      } else if (on_insufficient_qty) {
        on_insufficient_qty(request.method + " " + request.target + " " + request.body,
                            reply.body);
      }
    }
  }
  trace_.add(std::move(what));
  if (request.method == "GET" && path == "/v2/positions" && reply.status == 200) {
    positions_read_at_ = now;
  }
  alpaca::HttpResponse r;
  r.status = reply.status;
  r.headers = std::move(reply.headers);
  r.body = std::move(reply.body);
  r.read_ratelimit_headers();
  return r;
}

alpaca::TransportResult ResubmitMutation::send(const alpaca::HttpRequest& request) {
  const Timestamp now = clock_.now();
  while (!taken_.empty() && now.ms_since(taken_.front().at) >= 1000) {
    alpaca::HttpRequest again = std::move(taken_.front().request);
    taken_.pop_front();
    const std::string cid = client_order_id_of(again.body);
    const std::string field = "\"client_order_id\":\"" + cid + "\"";
    const auto at = again.body.find(field);
    if (cid.empty() || at == std::string::npos) continue;
    again.body.replace(at, field.size(),
                       "\"client_order_id\":\"" + cid + "-m" + std::to_string(++seq_) + "\"");
    (void)inner_->send(again);
  }
  alpaca::TransportResult result = inner_->send(request);
  const bool submit = request.method == "POST" &&
                      request.target.substr(0, request.target.find('?')) == "/v2/orders";
  if (submit && result.ok() && result->status < 300) taken_.push_back({now, request});
  return result;
}

}  // namespace orderly::dst
