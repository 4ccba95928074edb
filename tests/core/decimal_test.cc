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
                        "0.000000001", "-0.25", "9223372036.854775807", "1.000000000"}) {
    auto d = Decimal::parse(s);
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(d->str(), s);
  }
}

TEST(DecimalParse, ValuesAreExact) {
  EXPECT_EQ(D("37").units(), 37'000'000'000);
  EXPECT_EQ(D("0.5").units(), 500'000'000);
  EXPECT_EQ(D("12.3456").units(), 12'345'600'000);
  EXPECT_EQ(D("-3").units(), -3'000'000'000);
  EXPECT_EQ(D("10.50"), D("10.5"));  // equal in value, printed as parsed
  EXPECT_EQ(D("10.50").str(), "10.50");
  EXPECT_EQ(D("+1.0").str(), "1.0");
  EXPECT_EQ(D("-0").units(), 0);
}

TEST(DecimalParse, RejectsMalformed) {
  for (const char* s : {"", "1.", ".5", "1e5", "1E5", "abc", "1.0000000001", "-", "+", " 1",
                        "1 ", "1,5", "1.2.3", "--1", "0x10", "1.5a", "nan", "inf", "+-1"}) {
    EXPECT_FALSE(Decimal::parse(s).has_value()) << "'" << s << "'";
  }
  EXPECT_THROW(Decimal::must("abc"), std::invalid_argument);
}

TEST(DecimalParse, RejectsOverflow) {
  EXPECT_TRUE(Decimal::parse("9223372036.854775807").has_value());  // INT64_MAX units
  EXPECT_FALSE(Decimal::parse("9223372036.854775808").has_value());
  EXPECT_FALSE(Decimal::parse("9223372037").has_value());
  EXPECT_FALSE(Decimal::parse("-9223372037").has_value());
  EXPECT_FALSE(Decimal::parse("99999999999999999999999").has_value());
  EXPECT_FALSE(Decimal::parse(std::string(41, '1')).has_value());
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
  const Decimal max = Decimal::from_units(INT64_MAX);
  EXPECT_FALSE(max.checked_add(D("0.000000001")).has_value());
  EXPECT_FALSE(Decimal::from_units(INT64_MIN).checked_sub(D("0.000000001")).has_value());
  EXPECT_THROW(max + D("1"), std::overflow_error);
  EXPECT_THROW(-Decimal::from_units(INT64_MIN), std::overflow_error);
  EXPECT_FALSE(D("100000").checked_mul(D("100000")).has_value());
  EXPECT_THROW(D("100000") * D("100000"), std::overflow_error);
  EXPECT_FALSE(D("9000000000").add_percent(D("50")).has_value());
}

TEST(DecimalArithmetic, Multiply) {
  EXPECT_EQ((D("12.34") * D("3")).str(), "37.02");
  EXPECT_EQ((D("0.5") * D("0.5")).str(), "0.25");
  EXPECT_EQ((D("-2") * D("1.5")).str(), "-3.0");
  // 0.000000001 * 0.5 = 5e-10: half-even to 0, down to 0, up to 1e-9.
  EXPECT_EQ(D("0.000000001").checked_mul(D("0.5"), Rounding::half_even)->units(), 0);
  EXPECT_EQ(D("0.000000003").checked_mul(D("0.5"), Rounding::half_even)->units(), 2);
  EXPECT_EQ(D("0.000000001").checked_mul(D("0.5"), Rounding::up)->units(), 1);
  EXPECT_EQ(D("-0.000000001").checked_mul(D("0.5"), Rounding::down)->units(), -1);
}

TEST(DecimalArithmetic, Divide) {
  EXPECT_EQ(D("10").checked_div(D("4"))->str(), "2.5");
  EXPECT_EQ(D("1").checked_div(D("3"), Rounding::down)->str(), "0.333333333");
  EXPECT_EQ(D("1").checked_div(D("3"), Rounding::up)->str(), "0.333333334");
  EXPECT_EQ(D("2").checked_div(D("3"), Rounding::half_even)->str(), "0.666666667");
  EXPECT_EQ(D("-1").checked_div(D("3"), Rounding::down)->str(), "-0.333333334");
  EXPECT_EQ(D("1").checked_div(D("-4"))->str(), "-0.25");
  EXPECT_FALSE(D("1").checked_div(D("0")).has_value());
  EXPECT_FALSE(D("9000000000").checked_div(D("0.001")).has_value());
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
}

// --- Properties over seeded random canonical strings -------------------------------------------

std::string random_canonical(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> int_len(1, 10), frac_len(0, 9), digit(0, 9), coin(0, 1);
  std::string s;
  if (coin(rng)) s += '-';
  int n = int_len(rng);
  s += n == 1 ? static_cast<char>('0' + digit(rng)) : static_cast<char>('1' + digit(rng) % 9);
  for (int i = 1; i < n; ++i) s += static_cast<char>('0' + digit(rng));
  if (n == 10) s[s[0] == '-' ? 1 : 0] = '1';  // keep below 2e9 so sums cannot overflow
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

// The exact rational value of a canonical string as (numerator, 10^scale), compared by
// cross-multiplication in 128 bits: independent of Decimal's own representation.
struct Rational {
  __int128 num = 0;
  __int128 den = 1;
};
Rational exact(const std::string& s) {
  Rational r;
  bool neg = s[0] == '-';
  bool frac = false;
  for (char c : s) {
    if (c == '-') continue;
    if (c == '.') {
      frac = true;
      continue;
    }
    r.num = r.num * 10 + (c - '0');
    if (frac) r.den *= 10;
  }
  if (neg) r.num = -r.num;
  return r;
}
int compare(const Rational& a, const Rational& b) {
  __int128 l = a.num * b.den, r = b.num * a.den;
  return l < r ? -1 : (l > r ? 1 : 0);
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
    if (i % 5 == 0 && (dot == std::string::npos || a.size() - dot - 1 < 9)) {
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
