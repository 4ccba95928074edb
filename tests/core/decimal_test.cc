// Decimal: Alpaca sends quantities and prices as strings; they must come back unchanged and
// compare exactly. Property tests use a fixed seed so a failure reproduces.

#include "core/decimal.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace orderly {
namespace {

Decimal D(std::string_view s) { return Decimal::must(s); }

TEST(DecimalParse, AlpacaSpellingsPrintBackUnchanged) {
  for (const char* s : {"37", "0.5", "12.3456", "-3", "10.50", "0", "105.8988475", "1790.86",
                        "0.000000001", "-0.25", "9223372036.854775807", "1.000000000",
                        "19660.5738784516887649", "156.769502669363693758",
                        "0.000000000000000001", "170141183460469231731.687303715884105727",
                        "-170141183460469231731.687303715884105727", "123456789012345678.5"}) {
    auto d = Decimal::parse(s);
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(d->str(), s);
  }
}

TEST(DecimalParse, ValuesAreExact) {
  const Decimal::Units one = Decimal::kUnitsPerOne;
  EXPECT_TRUE(D("37").units() == 37 * one);
  EXPECT_TRUE(D("0.5").units() == one / 2);
  EXPECT_TRUE(D("12.3456").units() == 123456 * one / 10000);
  EXPECT_TRUE(D("-3").units() == -3 * one);
  EXPECT_TRUE(D("0.000000000000000001").units() == 1);
  // Alpaca's own examples: a crypto position's avg_entry_price (16 digits) and an order's
  // filled_avg_price (18 digits) are read exactly and compare exactly.
  EXPECT_TRUE(D("19660.5738784516887649").units() == 19660 * one + 573878451688764900);
  EXPECT_TRUE(D("156.769502669363693758").units() == 156 * one + 769502669363693758);
  EXPECT_LT(D("156.769502669363693757"), D("156.769502669363693758"));
  EXPECT_EQ(D("10.50"), D("10.5"));  // equal in value, printed as parsed
  EXPECT_EQ(D("10.50").str(), "10.50");
  EXPECT_EQ(D("+1.0").str(), "1.0");
  EXPECT_TRUE(D("-0").units() == 0);
  // Zeros past the 18th digit lose nothing: accepted, printed with 18.
  EXPECT_EQ(D("1.00000000000000000000").str(), "1.000000000000000000");
}

TEST(DecimalParse, RejectsMalformed) {
  for (const char* s : {"", "1.", ".5", "1e5", "1E5", "abc", "1.0000000000000000001", "-", "+",
                        " 1", "1 ", "1,5", "1.2.3", "--1", "0x10", "1.5a", "nan", "inf", "+-1"}) {
    EXPECT_FALSE(Decimal::parse(s).has_value()) << "'" << s << "'";
  }
  EXPECT_THROW(Decimal::must("abc"), std::invalid_argument);
}

TEST(DecimalParse, RejectsOverflow) {
  // 18 integer digits with 18 fractional ones fit; the limit is 2^127 - 1 units of 1e-18.
  EXPECT_TRUE(Decimal::parse("999999999999999999.999999999999999999").has_value());
  EXPECT_TRUE(Decimal::parse("170141183460469231731.687303715884105727").has_value());
  EXPECT_FALSE(Decimal::parse("170141183460469231731.687303715884105728").has_value());
  EXPECT_FALSE(Decimal::parse("-170141183460469231731.687303715884105728").has_value());
  EXPECT_FALSE(Decimal::parse("170141183460469231732").has_value());
  EXPECT_FALSE(Decimal::parse("99999999999999999999999").has_value());
  EXPECT_FALSE(Decimal::parse(std::string(41, '1')).has_value());
  EXPECT_FALSE(Decimal::parse(std::string(400, '9')).has_value());
  EXPECT_EQ(Decimal::largest().str(), "170141183460469231731.687303715884105727");
}

TEST(DecimalArithmetic, AddSubKeepsTheFinerScale) {
  EXPECT_EQ((D("0.1") + D("0.2")).str(), "0.3");
  EXPECT_EQ((D("10.50") + D("1")).str(), "11.50");
  EXPECT_EQ((D("1") - D("0.0001")).str(), "0.9999");
  EXPECT_EQ((D("-3") - D("2.5")).str(), "-5.5");
  EXPECT_EQ((-D("2.50")).str(), "-2.50");
  Decimal acc = D("0");
  for (int i = 0; i < 10; ++i) acc += D("0.1");
  EXPECT_EQ(acc, D("1"));  // a double would not say so
}

TEST(DecimalArithmetic, OverflowIsAnError) {
  const Decimal max = Decimal::largest();
  const Decimal tiny = D("0.000000000000000001");
  EXPECT_FALSE(max.checked_add(tiny).has_value());
  EXPECT_FALSE((-max).checked_sub(tiny).has_value());
  EXPECT_THROW(max + D("1"), std::overflow_error);
  EXPECT_THROW(-max - D("1"), std::overflow_error);
  EXPECT_FALSE(D("100000000000").checked_mul(D("100000000000")).has_value());
  EXPECT_THROW(D("100000000000") * D("100000000000"), std::overflow_error);
  EXPECT_FALSE(max.checked_mul(D("1.000000000000000001")).has_value());
  EXPECT_FALSE(max.checked_mul(D("-1.000000000000000001")).has_value());
  EXPECT_FALSE(D("100000000000000000000").add_percent(D("80")).has_value());
  EXPECT_FALSE(max.checked_div(D("0.5")).has_value());
  EXPECT_FALSE(max.checked_add(D("1")).has_value());
  // Near the limit, the exact answer still comes back.
  EXPECT_EQ(*max.checked_mul(D("1")), max);
  EXPECT_EQ(*max.checked_div(D("1")), max);
  EXPECT_EQ(max.checked_mul(D("-1"))->str(), "-170141183460469231731.687303715884105727");
  EXPECT_EQ(D("10000000000").checked_mul(D("10000000000"))->str(), "100000000000000000000");
}

TEST(DecimalArithmetic, Multiply) {
  EXPECT_EQ((D("12.34") * D("3")).str(), "37.02");
  EXPECT_EQ((D("0.5") * D("0.5")).str(), "0.25");
  EXPECT_EQ((D("-2") * D("1.5")).str(), "-3.0");
  // 1e-18 * 0.5 = 5e-19: half-even to 0, down to 0, up to 1e-18.
  const Decimal tiny = D("0.000000000000000001");
  EXPECT_TRUE(tiny.checked_mul(D("0.5"), Rounding::half_even)->units() == 0);
  EXPECT_TRUE(D("0.000000000000000003").checked_mul(D("0.5"), Rounding::half_even)->units() == 2);
  EXPECT_TRUE(tiny.checked_mul(D("0.5"), Rounding::up)->units() == 1);
  EXPECT_TRUE((-tiny).checked_mul(D("0.5"), Rounding::down)->units() == -1);
  // Products of ordinary quantities and prices (past 128 bits of 1e-18 units before dividing).
  EXPECT_EQ((D("1500") * D("19660.5738784516887649")).str(), "29490860.8176775331473500");
  EXPECT_EQ((D("0.000123456789012345") * D("98765.4321")).str(), "12.193263112482786159");
}

TEST(DecimalArithmetic, Divide) {
  EXPECT_EQ(D("10").checked_div(D("4"))->str(), "2.5");
  EXPECT_EQ(D("1").checked_div(D("3"), Rounding::down)->str(), "0.333333333333333333");
  EXPECT_EQ(D("1").checked_div(D("3"), Rounding::up)->str(), "0.333333333333333334");
  EXPECT_EQ(D("2").checked_div(D("3"), Rounding::half_even)->str(), "0.666666666666666667");
  EXPECT_EQ(D("-1").checked_div(D("3"), Rounding::down)->str(), "-0.333333333333333334");
  // A divisor past 64 bits of units takes the long path; the answer is the same exact one.
  EXPECT_EQ(D("29490860.8176775331473500").checked_div(D("1500"))->str(), "19660.5738784516887649");
  EXPECT_EQ(D("1000").checked_div(D("156.769502669363693758"), Rounding::down)->str(),
            "6.378791684432782317");
  EXPECT_EQ(D("1").checked_div(D("-4"))->str(), "-0.25");
  EXPECT_FALSE(D("1").checked_div(D("0")).has_value());
  EXPECT_FALSE(D("100000000000000000000").checked_div(D("0.001")).has_value());
}

TEST(DecimalArithmetic, AddPercent) {
  EXPECT_EQ(*D("100").add_percent(D("2")), D("102"));
  EXPECT_EQ(*D("100").add_percent(D("-1.5")), D("98.5"));
  EXPECT_EQ(*D("10.01").add_percent(D("3")), D("10.3103"));
  EXPECT_EQ(*D("0.5").add_percent(D("0")), D("0.5"));
  EXPECT_EQ(*D("-100").add_percent(D("10")), D("-110"));
}

TEST(DecimalRounding, RoundToEachMode) {
  const Decimal cent = D("0.01");
  EXPECT_EQ(D("10.005").round_to(cent, Rounding::down).str(), "10.00");
  EXPECT_EQ(D("10.005").round_to(cent, Rounding::up).str(), "10.01");
  EXPECT_EQ(D("10.005").round_to(cent, Rounding::half_even).str(), "10.00");
  EXPECT_EQ(D("10.015").round_to(cent, Rounding::half_even).str(), "10.02");
  EXPECT_EQ(D("10.0151").round_to(cent, Rounding::half_even).str(), "10.02");
  EXPECT_EQ(D("10.0149").round_to(cent, Rounding::half_even).str(), "10.01");
  EXPECT_EQ(D("10").round_to(cent, Rounding::up).str(), "10.00");  // already on the grid
  // Negative numbers: down is toward -infinity, up toward +infinity.
  EXPECT_EQ(D("-10.005").round_to(cent, Rounding::down).str(), "-10.01");
  EXPECT_EQ(D("-10.005").round_to(cent, Rounding::up).str(), "-10.00");
  EXPECT_EQ(D("-10.005").round_to(cent, Rounding::half_even).str(), "-10.00");
  EXPECT_EQ(D("-10.015").round_to(cent, Rounding::half_even).str(), "-10.02");
  EXPECT_EQ(D("7").round_to(D("5"), Rounding::half_even).str(), "5");
  EXPECT_EQ(D("7.5").round_to(D("5"), Rounding::half_even).str(), "10");
  EXPECT_EQ(D("12.3").round_to(D("0.25"), Rounding::down).str(), "12.25");
  EXPECT_THROW(D("1").round_to(D("0"), Rounding::down), std::invalid_argument);
  EXPECT_THROW(D("1").round_to(D("-0.01"), Rounding::down), std::invalid_argument);
}

TEST(DecimalRounding, PriceIncrementAtTheDollarBoundary) {
  EXPECT_EQ(Decimal::price_increment_for(D("1.00")), D("0.01"));
  EXPECT_EQ(Decimal::price_increment_for(D("250")), D("0.01"));
  EXPECT_EQ(Decimal::price_increment_for(D("0.9999")), D("0.0001"));
  EXPECT_EQ(Decimal::price_increment_for(D("0.999999999")), D("0.0001"));
  EXPECT_EQ(Decimal::price_increment_for(D("0.999999999999999999")), D("0.0001"));
  EXPECT_EQ(Decimal::price_increment_for(D("-1")), D("0.01"));
  EXPECT_EQ(Decimal::price_increment_for(D("-0.5")), D("0.0001"));
}

TEST(DecimalRounding, RoundPrice) {
  EXPECT_EQ(D("290.123").round_price(Rounding::down).str(), "290.12");
  EXPECT_EQ(D("290.123").round_price(Rounding::up).str(), "290.13");
  EXPECT_EQ(D("290.125").round_price(Rounding::half_even).str(), "290.12");
  EXPECT_EQ(D("0.12345").round_price(Rounding::down).str(), "0.1234");
  EXPECT_EQ(D("0.12345").round_price(Rounding::up).str(), "0.1235");
  EXPECT_EQ(D("0.12345").round_price(Rounding::half_even).str(), "0.1234");
  EXPECT_EQ(D("1.004").round_price(Rounding::down).str(), "1.00");
  EXPECT_EQ(D("1.000").round_price(Rounding::up).str(), "1.00");
  EXPECT_EQ(D("0.99999").round_price(Rounding::down).str(), "0.9999");
  // Crossing up into the penny grid must print like a penny price, not "1.0000".
  EXPECT_EQ(D("0.99996").round_price(Rounding::up).str(), "1.00");
  EXPECT_EQ(D("0.99995").round_price(Rounding::half_even).str(), "1.00");
  EXPECT_EQ(D("0.999950001").round_price(Rounding::half_even).str(), "1.00");
  EXPECT_EQ(D("-0.99996").round_price(Rounding::down).str(), "-1.00");
  EXPECT_EQ(D("-2.555").round_price(Rounding::down).str(), "-2.56");
  EXPECT_EQ(D("-2.555").round_price(Rounding::up).str(), "-2.55");
  EXPECT_EQ(D("-0.00005").round_price(Rounding::half_even).str(), "0.0000");
  EXPECT_EQ(D("156.769502669363693758").round_price(Rounding::half_even).str(), "156.77");
  EXPECT_EQ(D("19660.5738784516887649").round_price(Rounding::down).str(), "19660.57");
}

// --- Properties over seeded random canonical strings -------------------------------------------

std::string random_canonical(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> int_len(1, 19), frac_len(0, 18), digit(0, 9), coin(0, 1);
  std::string s;
  if (coin(rng)) s += '-';
  int n = int_len(rng);
  s += n == 1 ? static_cast<char>('0' + digit(rng)) : static_cast<char>('1' + digit(rng) % 9);
  for (int i = 1; i < n; ++i) s += static_cast<char>('0' + digit(rng));
  if (n == 19) s[s[0] == '-' ? 1 : 0] = '1';  // keep below 2e18 so sums cannot overflow
  int f = frac_len(rng);
  if (f > 0) {
    s += '.';
    for (int i = 0; i < f; ++i) s += static_cast<char>('0' + digit(rng));
  }
  if (s == "-0" ||
      (s.starts_with("-0.") && s.find_first_not_of("0.", 1) == std::string::npos)) {
    s.erase(0, 1);  // "-0.00" parses but prints without its sign
  }
  return s;
}

// The exact value of a canonical string as sign, integer digits and 18 fractional digits,
// compared digit by digit: independent of Decimal's own representation.
struct Exact {
  bool negative = false;
  std::string integer;   // no leading zeros ("" for zero)
  std::string fraction;  // padded to 18 digits
};
Exact exact(const std::string& s) {
  Exact e;
  std::string body = s;
  if (body[0] == '-') {
    e.negative = true;
    body.erase(0, 1);
  }
  const auto dot = body.find('.');
  e.integer = body.substr(0, dot);
  e.integer.erase(0, e.integer.find_first_not_of('0') == std::string::npos
                          ? e.integer.size()
                          : e.integer.find_first_not_of('0'));
  e.fraction = dot == std::string::npos ? "" : body.substr(dot + 1);
  e.fraction.resize(18, '0');
  if (e.integer.empty() && e.fraction == std::string(18, '0')) e.negative = false;
  return e;
}
int compare_magnitude(const Exact& a, const Exact& b) {
  if (a.integer.size() != b.integer.size()) return a.integer.size() < b.integer.size() ? -1 : 1;
  const int c = (a.integer + a.fraction).compare(b.integer + b.fraction);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}
int compare(const Exact& a, const Exact& b) {
  if (a.negative != b.negative) return a.negative ? -1 : 1;
  const int m = compare_magnitude(a, b);
  return a.negative ? -m : m;
}

TEST(DecimalProperty, RoundTripOfCanonicalStrings) {
  std::mt19937_64 rng(20260424);
  for (int i = 0; i < 20000; ++i) {
    std::string s = random_canonical(rng);
    auto d = Decimal::parse(s);
    ASSERT_TRUE(d.has_value()) << s;
    ASSERT_EQ(d->str(), s);
  }
}

TEST(DecimalProperty, OrderingAgreesWithExactRationals) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string a = random_canonical(rng), b = random_canonical(rng);
    const auto dot = a.find('.');
    if (i % 5 == 0 && (dot == std::string::npos || a.size() - dot - 1 < 18)) {
      b = a + (dot == std::string::npos ? ".0" : "0");  // the same value at a finer scale
    }
    int want = compare(exact(a), exact(b));
    Decimal da = D(a), db = D(b);
    ASSERT_EQ(da < db, want < 0) << a << " vs " << b;
    ASSERT_EQ(da == db, want == 0) << a << " vs " << b;
    ASSERT_EQ(da > db, want > 0) << a << " vs " << b;
  }
}

TEST(DecimalProperty, AddThenSubtractIsIdentity) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 20000; ++i) {
    Decimal a = D(random_canonical(rng)), b = D(random_canonical(rng));
    ASSERT_EQ(a + b - b, a) << a.str() << " " << b.str();
    ASSERT_EQ(a + b, b + a);
  }
}

}  // namespace
}  // namespace orderly
