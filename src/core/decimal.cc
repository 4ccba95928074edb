#include "core/decimal.h"

#include <algorithm>
#include <stdexcept>

namespace orderly {
namespace {

using U128 = unsigned __int128;
using Units = Decimal::Units;

constexpr U128 kOne = static_cast<U128>(Decimal::kUnitsPerOne);
constexpr U128 kMaxMagnitude = ~(U128{1} << 127);  // |INT128_MIN| is refused: negation stays safe

constexpr U128 magnitude(Units v) { return v < 0 ? -static_cast<U128>(v) : static_cast<U128>(v); }

// The signed value of a magnitude, or nullopt when it does not fit.
std::optional<Units> signed_value(U128 mag, bool negative) {
  if (mag > kMaxMagnitude) return std::nullopt;
  const Units v = static_cast<Units>(mag);
  return negative ? -v : v;
}

// Rounds the magnitude quotient q (remainder rem of divisor d) of a value whose sign is
// `negative`: down is toward -infinity, up toward +infinity, as for prices.
std::optional<U128> round_quotient(U128 q, U128 rem, U128 d, bool negative, Rounding r) {
  if (rem == 0) return q;
  bool away = false;  // away from zero
  switch (r) {
    case Rounding::down: away = negative; break;
    case Rounding::up: away = !negative; break;
    case Rounding::half_even: {
      const U128 rest = d - rem;  // compares 2*rem with d without overflowing
      away = rem > rest || (rem == rest && q % 2 == 1);
      break;
    }
  }
  if (!away) return q;
  if (q == ~U128{0}) return std::nullopt;
  return q + 1;
}

struct Wide {  // a 256-bit unsigned value
  U128 hi = 0;
  U128 lo = 0;
};

Wide multiply_wide(U128 a, U128 b) {
  const U128 mask = ~std::uint64_t{0};
  const U128 a0 = a & mask, a1 = a >> 64, b0 = b & mask, b1 = b >> 64;
  const U128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const U128 mid = (p00 >> 64) + (p01 & mask) + (p10 & mask);
  return {p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64), (mid << 64) | (p00 & mask)};
}

struct QuotientRem {
  U128 q;
  U128 rem;
};

// n / d for d > 0; nullopt when the quotient needs more than 128 bits.
std::optional<QuotientRem> divide_wide(Wide n, U128 d) {
  if (n.hi >= d) return std::nullopt;
  if (n.hi == 0) return QuotientRem{n.lo / d, n.lo % d};
  if (d >> 64 == 0) {  // a 64-bit divisor (1e18): two native divisions, one per 64-bit limb
    const U128 mask = ~std::uint64_t{0};
    const U128 upper = (n.hi << 64) | (n.lo >> 64);
    const U128 lower = ((upper % d) << 64) | (n.lo & mask);
    return QuotientRem{((upper / d) << 64) | (lower / d), lower % d};
  }
  U128 rem = n.hi, q = 0;  // shift-subtract, one bit at a time; rem < d throughout
  for (int bit = 127; bit >= 0; --bit) {
    const bool carry = (rem >> 127) != 0;
    rem = (rem << 1) | ((n.lo >> bit) & 1);
    q <<= 1;
    if (carry || rem >= d) {
      rem -= d;
      q |= 1;
    }
  }
  return QuotientRem{q, rem};
}

// a * b / d, rounded, with the sign given; nullopt on overflow.
std::optional<Units> mul_div(U128 a, U128 b, U128 d, bool negative, Rounding r) {
  auto qr = divide_wide(multiply_wide(a, b), d);
  if (!qr) return std::nullopt;
  auto q = round_quotient(qr->q, qr->rem, d, negative, r);
  if (!q) return std::nullopt;
  return signed_value(*q, negative);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<Decimal> Decimal::parse(std::string_view text) {
  std::size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) i = 1;
  U128 mag = 0;
  const std::size_t int_begin = i;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    if (mag > (kMaxMagnitude - (text[i] - '0')) / 10) return std::nullopt;
    mag = mag * 10 + static_cast<U128>(text[i] - '0');
  }
  if (i == int_begin) return std::nullopt;
  if (mag > kMaxMagnitude / kOne) return std::nullopt;
  mag *= kOne;
  int frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const std::size_t frac_begin = i;
    U128 place = kOne;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      place /= 10;
      if (place == 0 && text[i] != '0') return std::nullopt;  // a 19th digit would be lost
      mag += place * static_cast<U128>(text[i] - '0');
    }
    if (i == frac_begin) return std::nullopt;  // "1." is not a number Alpaca sends
    frac_digits = static_cast<int>(std::min<std::size_t>(i - frac_begin, kMaxScale));
  }
  if (i != text.size() || mag > kMaxMagnitude) return std::nullopt;
  const Units v = static_cast<Units>(mag);
  return Decimal(negative ? -v : v, frac_digits);
}

Decimal Decimal::must(std::string_view text) {
  auto d = parse(text);
  if (!d) throw std::invalid_argument("not a decimal: '" + std::string(text) + "'");
  return *d;
}

int Decimal::digits_needed(Units units) {
  U128 frac = magnitude(units) % kOne;
  if (frac == 0) return 0;
  int digits = kMaxScale;
  while (frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  return digits;
}

std::string Decimal::str() const {
  const int scale = std::max(scale_, digits_needed(units_));
  U128 integer = magnitude(units_) / kOne;
  U128 frac = magnitude(units_) % kOne;
  std::string out;
  do {
    out.push_back(static_cast<char>('0' + static_cast<int>(integer % 10)));
    integer /= 10;
  } while (integer != 0);
  if (units_ < 0) out.push_back('-');
  std::reverse(out.begin(), out.end());
  if (scale > 0) {
    std::string frac_str(kMaxScale, '0');
    for (int k = kMaxScale - 1; k >= 0; --k) {
      frac_str[k] = static_cast<char>('0' + static_cast<int>(frac % 10));
      frac /= 10;
    }
    out += '.';
    out.append(frac_str, 0, scale);
  }
  return out;
}

std::optional<Decimal> Decimal::checked_add(Decimal o) const {
  Units r;
  if (__builtin_add_overflow(units_, o.units_, &r) || magnitude(r) > kMaxMagnitude) {
    return std::nullopt;
  }
  return Decimal(r, std::max(scale_, o.scale_));
}

std::optional<Decimal> Decimal::checked_sub(Decimal o) const {
  Units r;
  if (__builtin_sub_overflow(units_, o.units_, &r) || magnitude(r) > kMaxMagnitude) {
    return std::nullopt;
  }
  return Decimal(r, std::max(scale_, o.scale_));
}

Decimal Decimal::operator+(Decimal o) const {
  auto r = checked_add(o);
  if (!r) throw std::overflow_error("decimal overflow in " + str() + " + " + o.str());
  return *r;
}

Decimal Decimal::operator-(Decimal o) const {
  auto r = checked_sub(o);
  if (!r) throw std::overflow_error("decimal overflow in " + str() + " - " + o.str());
  return *r;
}

Decimal Decimal::operator-() const {
  if (magnitude(units_) > kMaxMagnitude) throw std::overflow_error("decimal overflow in negation");
  return Decimal(-units_, scale_);
}

std::optional<Decimal> Decimal::checked_mul(Decimal o, Rounding r) const {
  const bool negative = (units_ < 0) != (o.units_ < 0);
  auto v = mul_div(magnitude(units_), magnitude(o.units_), kOne, negative, r);
  if (!v) return std::nullopt;
  return Decimal(*v, std::min(kMaxScale, scale_ + o.scale_));
}

Decimal Decimal::operator*(Decimal o) const {
  auto r = checked_mul(o);
  if (!r) throw std::overflow_error("decimal overflow in " + str() + " * " + o.str());
  return *r;
}

std::optional<Decimal> Decimal::checked_div(Decimal o, Rounding r) const {
  if (o.units_ == 0) return std::nullopt;
  const bool negative = (units_ < 0) != (o.units_ < 0);
  auto v = mul_div(magnitude(units_), kOne, magnitude(o.units_), negative, r);
  if (!v) return std::nullopt;
  return Decimal(*v, 0);
}

std::optional<Decimal> Decimal::add_percent(Decimal percent) const {
  // units * (100 + p) / 100, exact in 256 bits, then rounded half-even to 1e-18.
  Units factor;
  if (__builtin_add_overflow(Units{100} * kUnitsPerOne, percent.units_, &factor)) {
    return std::nullopt;
  }
  const bool negative = (units_ < 0) != (factor < 0);
  auto v = mul_div(magnitude(units_), magnitude(factor), U128{100} * kOne, negative,
                   Rounding::half_even);
  if (!v) return std::nullopt;
  return Decimal(*v, 0);
}

Decimal Decimal::round_to(Decimal increment, Rounding r) const {
  if (increment.units_ <= 0) throw std::invalid_argument("round_to needs a positive increment");
  const U128 inc = magnitude(increment.units_);
  auto steps = round_quotient(magnitude(units_) / inc, magnitude(units_) % inc, inc, units_ < 0, r);
  U128 v;
  if (!steps || __builtin_mul_overflow(*steps, inc, &v)) {
    throw std::overflow_error("decimal overflow in round_to");
  }
  auto out = signed_value(v, units_ < 0);
  if (!out) throw std::overflow_error("decimal overflow in round_to");
  return Decimal(*out, digits_needed(increment.units_));
}

Decimal Decimal::price_increment_for(Decimal price) {
  return price.abs() >= Decimal::from_int(1) ? Decimal(kUnitsPerOne / 100, 2)
                                              : Decimal(kUnitsPerOne / 10000, 4);
}

Decimal Decimal::round_price(Rounding r) const {
  const Decimal increment = price_increment_for(*this);
  Decimal out = round_to(increment, r);
  // 0.99996 rounds (up) to 1.0000 on the 0.0001 grid: the value is a valid penny price, but its
  // printed form would carry 4 decimals, which Alpaca refuses at or above $1.00 (42210000).
  const Decimal out_increment = price_increment_for(out);
  if (out_increment != increment) out = out.round_to(out_increment, r);
  return out;
}

}  // namespace orderly
