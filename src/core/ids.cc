#include "core/ids.h"

#include <fmt/format.h>

namespace orderly {
namespace {

constexpr std::string_view kDigits = "0123456789abcdefghijklmnopqrstuvwxyz";

char role_char(OrderRole r) {
  switch (r) {
    case OrderRole::entry: return 'e';
    case OrderRole::take_profit: return 't';
    case OrderRole::stop_loss: return 's';
    case OrderRole::exit: return 'x';
  }
  return '?';
}

std::optional<OrderRole> role_from_char(char c) {
  switch (c) {
    case 'e': return OrderRole::entry;
    case 't': return OrderRole::take_profit;
    case 's': return OrderRole::stop_loss;
    case 'x': return OrderRole::exit;
    default: return std::nullopt;
  }
}

std::optional<std::uint64_t> from_base36(std::string_view s) {
  if (s.empty() || s.size() > 13) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    auto pos = kDigits.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    if (__builtin_mul_overflow(v, 36, &v) || __builtin_add_overflow(v, pos, &v)) {
      return std::nullopt;
    }
  }
  return v;
}

}  // namespace

std::string to_base36(std::uint64_t v) {
  std::string out;
  do {
    out.insert(out.begin(), kDigits[v % 36]);
    v /= 36;
  } while (v != 0);
  return out;
}

std::string account_tag(std::string_view identity) {
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64-bit offset basis
  for (unsigned char c : identity) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  std::string s = to_base36(h % 2176782336ULL);  // 36^6
  return std::string(6 - s.size(), '0') + s;
}

std::string make_instance_tag(std::uint64_t random_bits) {
  std::string s = to_base36(random_bits % 1679616ULL);  // 36^4
  return std::string(4 - s.size(), '0') + s;
}

std::string make_client_order_id(std::string_view owner, TradeId trade_id, OrderRole role,
                                 int generation) {
  std::string cid = fmt::format("{}{}-{}-{}{}", kClientOrderIdPrefix, owner,
                                to_base36(static_cast<std::uint64_t>(trade_id)), role_char(role),
                                to_base36(static_cast<std::uint64_t>(generation)));
  return cid;
}

std::optional<ClientOrderIdParts> parse_client_order_id(std::string_view cid) {
  if (cid.size() > kClientOrderIdMax || !cid.starts_with(kClientOrderIdPrefix)) return std::nullopt;
  cid.remove_prefix(kClientOrderIdPrefix.size());
  auto dash1 = cid.find('-');
  if (dash1 == std::string_view::npos) return std::nullopt;
  auto dash2 = cid.find('-', dash1 + 1);
  if (dash2 == std::string_view::npos || dash2 + 2 > cid.size()) return std::nullopt;
  ClientOrderIdParts p;
  p.owner = std::string(cid.substr(0, dash1));
  auto trade = from_base36(cid.substr(dash1 + 1, dash2 - dash1 - 1));
  auto role = role_from_char(cid[dash2 + 1]);
  auto gen = from_base36(cid.substr(dash2 + 2));
  if (p.owner.empty() || !trade || !role || !gen || *gen > 1'000'000) return std::nullopt;
  p.trade_id = static_cast<TradeId>(*trade);
  p.role = *role;
  p.generation = static_cast<int>(*gen);
  return p;
}

bool is_ours(std::string_view cid, std::string_view owner) {
  auto p = parse_client_order_id(cid);
  return p && p->owner == owner;
}

}  // namespace orderly
