#include "core/decimal.h"

#include <stdexcept>

namespace orderly {
namespace {

constexpr std::int64_t kPow10[] = {1,         10,         100,         1000,       10000,
                                   100000,    1000000,    10000000,    100000000,  1000000000};

__int128 divide_rounded(__int128 numerator, __int128 denominator, Rounding r) {
  // denominator > 0
  __int128 q = numerator / denominator;
  __int128 rem = numerator % denominator;
  if (rem == 0) return q;
  bool negative = numerator < 0;
  switch (r) {
    case Rounding::down:  // toward negative infinity
      return negative ? q - 1 : q;
    case Rounding::up:  // toward positive infinity
      return negative ? q : q + 1;
    case Rounding::half_even: {
      __int128 twice = (rem < 0 ? -rem : rem) * 2;
      if (twice < denominator) return q;
      if (twice > denominator) return negative ? q - 1 : q + 1;
      if (q % 2 == 0) return q;
      return negative ? q - 1 : q + 1;
    }
  }
  return q;
}

bool fits(__int128 v) { return v >= INT64_MIN && v <= INT64_MAX; }

}  // namespace

std::optional<Decimal> Decimal::parse(std::string_view text) {
  if (text.empty() || text.size() > 40) return std::nullopt;
  std::size_t i = 0;
  bool negative = false;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    i = 1;
  }
  std::int64_t integer = 0;
  int int_digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (__builtin_mul_overflow(integer, 10, &integer) ||
        __builtin_add_overflow(integer, text[i] - '0', &integer)) {
      return std::nullopt;
    }
    ++int_digits;
  }
  std::int64_t fraction = 0;
  int frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (frac_digits == kMaxScale) return std::nullopt;
      fraction = fraction * 10 + (text[i] - '0');
      ++frac_digits;
    }
    if (frac_digits == 0) return std::nullopt;  // "1." is not a number Alpaca sends
  }
  if (i != text.size() || int_digits == 0) return std::nullopt;
  std::int64_t units = 0;
  if (__builtin_mul_overflow(integer, kUnitsPerOne, &units)) return std::nullopt;
  fraction *= kPow10[kMaxScale - frac_digits];
  if (__builtin_add_overflow(units, fraction, &units)) return std::nullopt;
  return Decimal(negative ? -units : units, frac_digits);
}

Decimal Decimal::must(std::string_view text) {
  auto d = parse(text);
  if (!d) throw std::invalid_argument("not a decimal: '" + std::string(text) + "'");
  return *d;
}

int Decimal::digits_needed(std::int64_t units) {
  std::int64_t frac = units % kUnitsPerOne;
  if (frac < 0) frac = -frac;
  if (frac == 0) return 0;
  int digits = kMaxScale;
  while (frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  return digits;
}

std::string Decimal::str() const {
  int scale = std::max(scale_, digits_needed(units_));
  // Work in unsigned to print INT64_MIN without overflow.
  unsigned __int128 magnitude = units_ < 0 ? -static_cast<__int128>(units_) : units_;
  unsigned __int128 integer = magnitude / kUnitsPerOne;
  unsigned __int128 frac = magnitude % kUnitsPerOne;
  std::string int_part;
  do {
    int_part.insert(int_part.begin(), static_cast<char>('0' + static_cast<int>(integer % 10)));
    integer /= 10;
  } while (integer != 0);
  std::string out = units_ < 0 ? "-" + int_part : int_part;
  if (scale > 0) {
    std::string frac_str(kMaxScale, '0');
    for (int k = kMaxScale - 1; k >= 0; --k) {
      frac_str[k] = static_cast<char>('0' + static_cast<int>(frac % 10));
      frac /= 10;
    }
    out += '.';
    out += frac_str.substr(0, scale);
  }
  return out;
}

std::optional<Decimal> Decimal::checked_add(Decimal o) const {
  std::int64_t r;
  if (__builtin_add_overflow(units_, o.units_, &r)) return std::nullopt;
  return Decimal(r, std::max(scale_, o.scale_));
}

std::optional<Decimal> Decimal::checked_sub(Decimal o) const {
  std::int64_t r;
  if (__builtin_sub_overflow(units_, o.units_, &r)) return std::nullopt;
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
  if (units_ == INT64_MIN) throw std::overflow_error("decimal overflow in negation");
  return Decimal(-units_, scale_);
}

std::optional<Decimal> Decimal::checked_mul(Decimal o, Rounding r) const {
  __int128 product = static_cast<__int128>(units_) * o.units_;
  __int128 q = divide_rounded(product, kUnitsPerOne, r);
  if (!fits(q)) return std::nullopt;
  return Decimal(static_cast<std::int64_t>(q), std::min(kMaxScale, scale_ + o.scale_));
}

Decimal Decimal::operator*(Decimal o) const {
  auto r = checked_mul(o);
  if (!r) throw std::overflow_error("decimal overflow in " + str() + " * " + o.str());
  return *r;
}

std::optional<Decimal> Decimal::checked_div(Decimal o, Rounding r) const {
  if (o.units_ == 0) return std::nullopt;
  __int128 numerator = static_cast<__int128>(units_) * kUnitsPerOne;
  __int128 denominator = o.units_;
  if (denominator < 0) {
    numerator = -numerator;
    denominator = -denominator;
  }
  __int128 q = divide_rounded(numerator, denominator, r);
  if (!fits(q)) return std::nullopt;
  return Decimal(static_cast<std::int64_t>(q), 0);
}

std::optional<Decimal> Decimal::add_percent(Decimal percent) const {
  // units * (100 + p) / 100, exact in 128 bits, then rounded half-even to 1e-9.
  __int128 factor = static_cast<__int128>(100) * kUnitsPerOne + percent.units_;
  __int128 product = static_cast<__int128>(units_) * factor;
  __int128 q = divide_rounded(product, static_cast<__int128>(100) * kUnitsPerOne,
                              Rounding::half_even);
  if (!fits(q)) return std::nullopt;
  return Decimal(static_cast<std::int64_t>(q), 0);
}

Decimal Decimal::round_to(Decimal increment, Rounding r) const {
  if (increment.units_ <= 0) throw std::invalid_argument("round_to needs a positive increment");
  __int128 steps = divide_rounded(units_, increment.units_, r);
  __int128 v = steps * increment.units_;
  if (!fits(v)) throw std::overflow_error("decimal overflow in round_to");
  return Decimal(static_cast<std::int64_t>(v), digits_needed(increment.units_));
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
