#include "sim/fault_plan.h"

#include <boost/json.hpp>

namespace orderly::sim {
namespace json = boost::json;
namespace {

struct ActionInfo {
  std::string_view name;
  FaultAction action;
  FaultOn on;
};

constexpr ActionInfo kActions[] = {
    {"drop", FaultAction::drop, FaultOn::stream},
    {"duplicate", FaultAction::duplicate, FaultOn::stream},
    {"reorder", FaultAction::reorder, FaultOn::stream},
    {"delay", FaultAction::delay, FaultOn::stream},
    {"disconnect", FaultAction::disconnect, FaultOn::stream},
    {"status", FaultAction::status, FaultOn::http},
    {"slow", FaultAction::slow, FaultOn::http},
    {"lose_response", FaultAction::lose_response, FaultOn::http},
};

const ActionInfo* find_action(std::string_view name) {
  for (const auto& a : kActions) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::optional<std::int64_t> as_int(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.as_uint64());
  }
  if (v.is_double()) {
    const double d = v.as_double();
    if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d >= 0 && d < 1e15) {
      return static_cast<std::int64_t>(d);
    }
  }
  return std::nullopt;
}

// Reads one rule object into `base` (the action is read by the caller).
std::string read_rule(const json::object& o, std::size_t index, FaultRule& rule,
                      std::vector<const ActionInfo*>& actions) {
  const std::string where = "rule " + std::to_string(index) + ": ";
  std::optional<FaultOn> on;
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (key == "on") {
      if (!v.is_string()) return where + "\"on\" must be \"stream\" or \"http\"";
      if (v.as_string() == "stream") on = FaultOn::stream;
      else if (v.as_string() == "http") on = FaultOn::http;
      else return where + "\"on\" must be \"stream\" or \"http\"";
    } else if (key == "action") {
      if (!v.is_string()) return where + "\"action\" must be a string";
      std::string_view text = v.as_string();
      while (true) {
        const auto bar = text.find('|');
        const std::string_view name = text.substr(0, bar);
        const ActionInfo* info = find_action(name);
        if (!info) return where + "unknown action \"" + std::string(name) + "\"";
        actions.push_back(info);
        if (bar == std::string_view::npos) break;
        text.remove_prefix(bar + 1);
      }
    } else if (key == "p") {
      if (!v.is_number()) return where + "\"p\" must be a number";
      const double p = v.to_number<double>();
      if (!(p >= 0.0 && p <= 1.0)) return where + "\"p\" must be within [0, 1]";
      rule.p = p;
    } else if (key == "event" || key == "side" || key == "symbol" || key == "route") {
      if (!v.is_string() || v.as_string().empty()) {
        return where + "\"" + std::string(key) + "\" must be a non-empty string";
      }
      std::string s(v.as_string());
      if (key == "event") rule.event = s;
      else if (key == "side") {
        if (s != "buy" && s != "sell") return where + "\"side\" must be \"buy\" or \"sell\"";
        rule.side = s;
      } else if (key == "symbol") rule.symbol = s;
      else rule.route = s;
    } else if (key == "delay_ms" || key == "every_s" || key == "status") {
      const auto n = as_int(v);
      if (!n || *n < 0) return where + "\"" + std::string(key) + "\" must be a non-negative integer";
      if (key == "delay_ms") rule.delay_ms = *n;
      else if (key == "every_s") rule.every_s = *n;
      else rule.status = static_cast<int>(std::min<std::int64_t>(*n, 100000));
    } else {
      return where + "unknown key \"" + std::string(key) + "\"";
    }
  }
  if (!on) return where + "\"on\" is required";
  if (actions.empty()) return where + "\"action\" is required";
  rule.on = *on;
  for (const ActionInfo* a : actions) {
    if (a->on != *on) {
      return where + "action \"" + std::string(a->name) + "\" does not apply to \"" +
             (*on == FaultOn::stream ? "stream" : "http") + "\"";
    }
  }
  if (*on == FaultOn::stream && rule.route) return where + "\"route\" applies to http rules only";
  if (*on == FaultOn::http && (rule.event || rule.side)) {
    return where + "\"event\" and \"side\" apply to stream rules only";
  }
  for (const ActionInfo* a : actions) {
    switch (a->action) {
      case FaultAction::delay:
      case FaultAction::slow:
        if (rule.delay_ms <= 0) return where + "\"" + std::string(a->name) + "\" needs delay_ms > 0";
        if (rule.delay_ms > 600'000) return where + "delay_ms must be at most 600000";
        break;
      case FaultAction::disconnect:
        if (rule.every_s <= 0) return where + "\"disconnect\" needs every_s > 0";
        break;
      case FaultAction::status:
        if (rule.status < 400 || rule.status > 599) {
          return where + "\"status\" needs a status between 400 and 599";
        }
        break;
      default:
        break;
    }
  }
  return "";
}

}  // namespace

std::string_view to_string(FaultAction a) {
  for (const auto& info : kActions) {
    if (info.action == a) return info.name;
  }
  return "unknown";
}

std::variant<FaultPlan, std::string> parse_fault_plan(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return std::string("fault plan is not valid JSON: ") + ec.message();
  if (!doc.is_object()) return std::string("fault plan must be a JSON object with \"rules\"");
  FaultPlan plan;
  for (const auto& kv : doc.as_object()) {
    if (kv.key() != "rules") return "unknown key \"" + std::string(kv.key()) + "\" in fault plan";
    if (!kv.value().is_array()) return std::string("\"rules\" must be an array");
    std::size_t index = 0;
    for (const json::value& r : kv.value().as_array()) {
      if (!r.is_object()) return "rule " + std::to_string(index) + ": must be an object";
      FaultRule rule;
      std::vector<const ActionInfo*> actions;
      std::string err = read_rule(r.as_object(), index, rule, actions);
      if (!err.empty()) return err;
      for (const ActionInfo* a : actions) {
        rule.action = a->action;
        plan.rules.push_back(rule);
      }
      if (plan.rules.size() > kFaultRulesMax) {
        return "too many fault rules (at most " + std::to_string(kFaultRulesMax) + ")";
      }
      ++index;
    }
  }
  return plan;
}

bool route_matches(std::string_view rule_route, std::string_view route_template,
                   std::string_view concrete_route) {
  return rule_route == route_template || rule_route == concrete_route;
}

}  // namespace orderly::sim
