// client_order_id: deterministic per intent, <= 48 characters, recognisably ours, per account.

#include "core/ids.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <set>

namespace orderly {
namespace {

const OrderRole kRoles[] = {OrderRole::entry, OrderRole::take_profit, OrderRole::stop_loss,
                            OrderRole::exit};

std::string owner() { return account_tag("PKTEST123") + make_instance_tag(0xdeadbeef); }

TEST(ClientOrderId, RoundTrip) {
  const std::string o = owner();
  ASSERT_EQ(o.size(), 10u);
  for (TradeId t : {TradeId{1}, TradeId{35}, TradeId{36}, TradeId{123456789}}) {
    for (OrderRole r : kRoles) {
      for (int g : {0, 1, 35, 36, 1'000'000}) {
        const std::string cid = make_client_order_id(o, t, r, g);
        EXPECT_TRUE(cid.starts_with(kClientOrderIdPrefix)) << cid;
        auto p = parse_client_order_id(cid);
        ASSERT_TRUE(p.has_value()) << cid;
        EXPECT_EQ(p->owner, o);
        EXPECT_EQ(p->trade_id, t);
        EXPECT_EQ(p->role, r);
        EXPECT_EQ(p->generation, g);
        // Deterministic: a retry of the same intent carries the same id.
        EXPECT_EQ(make_client_order_id(o, t, r, g), cid);
      }
    }
  }
}

TEST(ClientOrderId, DistinctPerIntent) {
  std::set<std::string> ids;
  for (TradeId t = 1; t <= 50; ++t) {
    for (OrderRole r : kRoles) {
      for (int g = 0; g < 5; ++g) EXPECT_TRUE(ids.insert(make_client_order_id(owner(), t, r, g)).second);
    }
  }
}

TEST(ClientOrderId, AtMost48CharactersForExtremeValues) {
  const std::string cid = make_client_order_id(owner(), std::numeric_limits<TradeId>::max(),
                                               OrderRole::take_profit, 1'000'000);
  EXPECT_LE(cid.size(), kClientOrderIdMax) << cid;
  auto p = parse_client_order_id(cid);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->trade_id, std::numeric_limits<TradeId>::max());
  EXPECT_LE(make_client_order_id(owner(), std::numeric_limits<TradeId>::max(), OrderRole::exit,
                                 std::numeric_limits<int>::max())
                .size(),
            kClientOrderIdMax);
}

TEST(ClientOrderId, ForeignOrMalformedIdsAreNotParsed) {
  for (const char* s : {"", "ol-", "ol-abc", "ol-abc-1", "ol-abc-1-", "ol-abc-1-q0", "ol--1-e0",
                        "ol-abc-!-e0", "ol-abc-1-eZ", "xx-abc-1-e0",
                        "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
                        "ol-abcdefghij-1-e0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",  // > 48
                        "ol-abcdefghij-zzzzzzzzzzzzzz-e0"}) {                     // trade overflow
    EXPECT_FALSE(parse_client_order_id(s).has_value()) << s;
  }
}

TEST(ClientOrderId, IsOursNeedsTheSameOwner) {
  const std::string mine = owner();
  const std::string other_account = account_tag("PKOTHER") + make_instance_tag(0xdeadbeef);
  const std::string other_instance = account_tag("PKTEST123") + make_instance_tag(42);
  const std::string cid = make_client_order_id(mine, 7, OrderRole::entry, 0);
  EXPECT_TRUE(is_ours(cid, mine));
  EXPECT_FALSE(is_ours(cid, other_account));
  EXPECT_FALSE(is_ours(cid, other_instance));
  EXPECT_FALSE(is_ours("eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4", mine));
  // Two accounts (or two instances) never produce the same id for the same intent.
  EXPECT_NE(make_client_order_id(other_account, 7, OrderRole::entry, 0), cid);
  EXPECT_NE(make_client_order_id(other_instance, 7, OrderRole::entry, 0), cid);
}

// FNV-1a written out again here: the tag must never change between releases, or every stored
// order would stop being recognised as ours.
std::string expected_account_tag(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h %= 2176782336ULL;
  std::string out(6, '0');
  for (int i = 5; i >= 0; --i, h /= 36) out[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[h % 36];
  return out;
}

TEST(AccountTag, StableSixBase36Characters) {
  for (const char* k : {"", "PKTEST123", "AKXXXXXXXXXXXXXXXXXX", "a"}) {
    const std::string tag = account_tag(k);
    EXPECT_EQ(tag.size(), 6u);
    EXPECT_EQ(tag, account_tag(k));
    EXPECT_EQ(tag, expected_account_tag(k)) << k;
    EXPECT_EQ(tag.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz"), std::string::npos);
  }
  EXPECT_NE(account_tag("PKTEST123"), account_tag("PKTEST124"));
}

TEST(InstanceTag, FourBase36Characters) {
  EXPECT_EQ(make_instance_tag(0), "0000");
  EXPECT_EQ(make_instance_tag(35), "000z");
  EXPECT_EQ(make_instance_tag(1679616), "0000");  // 36^4 wraps
  EXPECT_EQ(make_instance_tag(~0ULL).size(), 4u);
}

TEST(Base36, Values) {
  EXPECT_EQ(to_base36(0), "0");
  EXPECT_EQ(to_base36(35), "z");
  EXPECT_EQ(to_base36(36), "10");
  EXPECT_EQ(to_base36(~0ULL), "3w5e11264sgsf");
}

}  // namespace
}  // namespace orderly
