#pragma once
// What the fuzz targets demand of anything a parser accepts: decimals and times print back to
// text that parses to the same value (the engine stores and compares them as text).

#include <cstdlib>
#include <optional>

#include "broker/broker.h"

namespace orderly::fuzz {

inline void require(bool ok) {
  if (!ok) std::abort();
}

inline void round_trips(const Decimal& d) { require(Decimal::parse(d.str()) == d); }
inline void round_trips(const std::optional<Decimal>& d) {
  if (d) round_trips(*d);
}
inline void round_trips(const Timestamp& t) {
  auto back = parse_rfc3339(format_rfc3339(t));
  require(back.has_value() && back->ns == t.ns);
}

inline void check_order(const BrokerOrder& o) {
  round_trips(o.qty);
  round_trips(o.filled_qty);
  round_trips(o.filled_avg_price);
  round_trips(o.limit_price);
  round_trips(o.stop_price);
  round_trips(o.created_at);
  if (o.submitted_at) round_trips(*o.submitted_at);
  for (const BrokerOrder& leg : o.legs) check_order(leg);
}

}  // namespace orderly::fuzz
