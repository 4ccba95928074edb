#pragma once
// The vocabulary shared by every layer: sides, order types, time in force, order classes and
// roles, each with its Alpaca spelling. Parsing an unknown spelling returns nullopt, never a guess.

#include <cstdint>
#include <optional>
#include <string_view>

namespace orderly {

enum class Side : std::uint8_t { buy, sell };
enum class OrderType : std::uint8_t { market, limit, stop, stop_limit, trailing_stop };
enum class TimeInForce : std::uint8_t { day, gtc, opg, cls, ioc, fok };
// "" and "simple" are the same class at Alpaca; we print "simple" in requests, accept both.
enum class OrderClass : std::uint8_t { simple, bracket, oco, oto, mleg };
// Why orderly placed the order. `exit` is a flattening order (cancel-trade, manual close).
enum class OrderRole : std::uint8_t { entry, take_profit, stop_loss, exit };
// none: the trade is an entry alone, by the caller's choice (`"exits":"none"`); its position is
// not watched for cover.
enum class ExitMode : std::uint8_t { native, emulated, none };

std::string_view to_string(Side v);
std::string_view to_string(OrderType v);
std::string_view to_string(TimeInForce v);
std::string_view to_string(OrderClass v);
std::string_view to_string(OrderRole v);
std::string_view to_string(ExitMode v);

std::optional<Side> parse_side(std::string_view s);
std::optional<OrderType> parse_order_type(std::string_view s);
std::optional<TimeInForce> parse_time_in_force(std::string_view s);
std::optional<OrderClass> parse_order_class(std::string_view s);
std::optional<OrderRole> parse_order_role(std::string_view s);
std::optional<ExitMode> parse_exit_mode(std::string_view s);

constexpr Side opposite(Side s) { return s == Side::buy ? Side::sell : Side::buy; }

}  // namespace orderly
