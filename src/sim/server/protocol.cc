#include "sim/server/protocol.h"

#include <boost/json.hpp>

#include <charconv>
#include <system_error>

namespace orderly::sim::server {
namespace json = boost::json;
namespace {

// A JSON number as the decimal text it most likely was: Boost.JSON 1.81 hands over a double,
// and the shortest fixed-notation form that round-trips gives back "10.25", not 10.2499999.
std::optional<std::string> number_text(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (!v.is_double()) return std::nullopt;
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double(), std::chars_format::fixed);
  if (ec != std::errc()) return std::nullopt;
  return std::string(buf, end);
}

std::string authorization_reply(std::string_view action, bool ok, std::string_view message) {
  json::object data;
  data["action"] = action;
  data["status"] = ok ? "authorized" : "unauthorized";
  if (!message.empty()) data["message"] = message;
  return json::serialize(json::object{{"stream", "authorization"}, {"data", std::move(data)}});
}

std::string listening_reply(bool trade_updates) {
  json::array streams;
  if (trade_updates) streams.emplace_back("trade_updates");
  return json::serialize(
      json::object{{"stream", "listening"}, {"data", json::object{{"streams", streams}}}});
}

std::string stream_error(std::string_view message) {
  return json::serialize(
      json::object{{"stream", "error"}, {"data", json::object{{"error_message", message}}}});
}

const json::string* string_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? &it->value().get_string() : nullptr;
}

std::string authenticate(const json::object* data, const SimConfig& config,
                         StreamClientState& state) {
  const json::string* key = data ? string_field(*data, "key_id") : nullptr;
  const json::string* secret = data ? string_field(*data, "secret_key") : nullptr;
  const bool oauth = data && string_field(*data, "oauth_token") != nullptr;
  if (!config.key_id && !config.secret_key) {
    state.authorized = true;  // open simulator: any credentials
    return authorization_reply("authenticate", true, "");
  }
  if (!oauth && (!key || !secret)) {
    state.authorized = false;
    return authorization_reply("authenticate", false,
                               "must provide key_id and secret_key or oauth_token");
  }
  bool ok = key && secret && std::string_view(*key) == config.key_id.value_or("") &&
            std::string_view(*secret) == config.secret_key.value_or("");
  state.authorized = ok;
  return authorization_reply("authenticate", ok, ok ? "" : "access key verification failed");
}

std::string listen(const json::object* data, StreamClientState& state) {
  if (!state.authorized) return authorization_reply("listen", false, "");
  const json::value* streams = data ? data->if_contains("streams") : nullptr;
  if (!streams || !streams->is_array()) return stream_error("listen needs data.streams, an array");
  bool trade_updates = false;
  for (const auto& s : streams->get_array()) {
    if (s.is_string() && s.get_string() == "trade_updates") trade_updates = true;
  }
  state.listening = trade_updates;  // the list is the full desired set: [] unsubscribes
  return listening_reply(trade_updates);
}

}  // namespace

StatusOr<std::map<std::string, Decimal>> parse_prices(std::string_view body) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec) return Status::error(Status::Code::invalid_argument, "body is not JSON: " + ec.message());
  if (!doc.is_object()) {
    return Status::error(Status::Code::invalid_argument,
                         "expected an object of symbol to price, e.g. {\"STWD\":\"10.25\"}");
  }
  std::map<std::string, Decimal> prices;
  for (const auto& [key, value] : doc.get_object()) {
    std::string symbol(key);
    if (symbol.empty()) return Status::error(Status::Code::invalid_argument, "empty symbol");
    std::optional<std::string> text =
        value.is_string() ? std::optional<std::string>(value.get_string()) : number_text(value);
    std::optional<Decimal> price = text ? Decimal::parse(*text) : std::nullopt;
    if (!price) {
      return Status::error(Status::Code::invalid_argument,
                           "price of " + symbol + " is not a decimal");
    }
    if (!price->is_positive()) {
      return Status::error(Status::Code::invalid_argument,
                           "price of " + symbol + " must be positive");
    }
    prices[symbol] = *price;
  }
  return prices;
}

std::string error_json(std::string_view text) {
  return json::serialize(json::object{{"error", text}});
}

std::string alpaca_error_json(long code, std::string_view message) {
  return json::serialize(json::object{{"code", code}, {"message", message}});
}

std::vector<std::string> handle_stream_message(std::string_view text, const SimConfig& config,
                                               StreamClientState& state) {
  json::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return {stream_error("invalid syntax")};
  const json::object& msg = doc.get_object();
  const json::string* action = string_field(msg, "action");
  auto data_it = msg.find("data");
  const json::object* data =
      data_it != msg.end() && data_it->value().is_object() ? &data_it->value().get_object()
                                                          : nullptr;
  if (!action) return {stream_error("missing action")};
  if (*action == "authenticate" || *action == "auth") return {authenticate(data, config, state)};
  if (*action == "listen") return {listen(data, state)};
  return {stream_error("unknown action")};
}

}  // namespace orderly::sim::server
