#include "core/types.h"

#include <array>
#include <utility>

namespace orderly {
namespace {

template <typename E, std::size_t N>
std::optional<E> find(const std::array<std::pair<E, std::string_view>, N>& table,
                      std::string_view s) {
  for (const auto& [e, name] : table) {
    if (name == s) return e;
  }
  return std::nullopt;
}

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [v, name] : table) {
    if (v == e) return name;
  }
  return "?";
}

constexpr std::array<std::pair<Side, std::string_view>, 2> kSides{
    {{Side::buy, "buy"}, {Side::sell, "sell"}}};
constexpr std::array<std::pair<OrderType, std::string_view>, 5> kTypes{
    {{OrderType::market, "market"},
     {OrderType::limit, "limit"},
     {OrderType::stop, "stop"},
     {OrderType::stop_limit, "stop_limit"},
     {OrderType::trailing_stop, "trailing_stop"}}};
constexpr std::array<std::pair<TimeInForce, std::string_view>, 6> kTifs{
    {{TimeInForce::day, "day"},
     {TimeInForce::gtc, "gtc"},
     {TimeInForce::opg, "opg"},
     {TimeInForce::cls, "cls"},
     {TimeInForce::ioc, "ioc"},
     {TimeInForce::fok, "fok"}}};
constexpr std::array<std::pair<OrderClass, std::string_view>, 5> kClasses{
    {{OrderClass::simple, "simple"},
     {OrderClass::bracket, "bracket"},
     {OrderClass::oco, "oco"},
     {OrderClass::oto, "oto"},
     {OrderClass::mleg, "mleg"}}};
constexpr std::array<std::pair<OrderRole, std::string_view>, 4> kRoles{
    {{OrderRole::entry, "entry"},
     {OrderRole::take_profit, "take_profit"},
     {OrderRole::stop_loss, "stop_loss"},
     {OrderRole::exit, "exit"}}};
constexpr std::array<std::pair<ExitMode, std::string_view>, 3> kExitModes{
    {{ExitMode::native, "native"}, {ExitMode::emulated, "emulated"}, {ExitMode::none, "none"}}};

}  // namespace

std::string_view to_string(Side v) { return name_of(kSides, v); }
std::string_view to_string(OrderType v) { return name_of(kTypes, v); }
std::string_view to_string(TimeInForce v) { return name_of(kTifs, v); }
std::string_view to_string(OrderClass v) { return name_of(kClasses, v); }
std::string_view to_string(OrderRole v) { return name_of(kRoles, v); }
std::string_view to_string(ExitMode v) { return name_of(kExitModes, v); }

std::optional<Side> parse_side(std::string_view s) { return find(kSides, s); }
std::optional<OrderType> parse_order_type(std::string_view s) { return find(kTypes, s); }
std::optional<TimeInForce> parse_time_in_force(std::string_view s) { return find(kTifs, s); }
std::optional<OrderClass> parse_order_class(std::string_view s) {
  if (s.empty()) return OrderClass::simple;
  return find(kClasses, s);
}
std::optional<OrderRole> parse_order_role(std::string_view s) { return find(kRoles, s); }
std::optional<ExitMode> parse_exit_mode(std::string_view s) { return find(kExitModes, s); }

}  // namespace orderly
