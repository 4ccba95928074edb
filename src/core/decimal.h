#pragma once
// Exact fixed-point decimal for quantities and prices. Alpaca sends both as strings, and some
// carry many digits: a crypto position's avg_entry_price "19660.5738784516887649" (16 fractional
// digits), a filled_avg_price "156.769502669363693758" (18). A double would turn 0.1 + 0.2 into
// noise and make filled_qty comparisons lie. Values are __int128 units of 1e-18: 18 fractional
// digits and a range of about +-1.7e20 (20 integer digits). Every operation either gives the
// exact (or explicitly rounded) result or reports overflow; none wraps.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orderly {

enum class Rounding { down, up, half_even };

class Decimal {
 public:
  using Units = __int128;
  static constexpr int kMaxScale = 18;
  static constexpr Units kUnitsPerOne = 1'000'000'000'000'000'000;

  constexpr Decimal() = default;
  static constexpr Decimal from_int(std::int64_t v) { return Decimal(Units{v} * kUnitsPerOne, 0); }
  // Parses "37", "-3", "0.5", "12.3456", "+1.0". Rejects empty input, exponents, a non-zero
  // digit past the 18th fractional one (it would be rounded away), stray characters and values
  // that overflow. Zeros past the 18th fractional digit lose nothing and are accepted. Returns
  // nullopt on error.
  static std::optional<Decimal> parse(std::string_view text);
  // Like parse, but throws std::invalid_argument naming the text (for trusted literals/tests).
  static Decimal must(std::string_view text);
  // `units` are 1e-18 each; `scale` is the least number of fractional digits to print.
  static constexpr Decimal from_units(Units units, int scale = kMaxScale) {
    return Decimal(units, scale);
  }
  // The largest representable value (about 1.7e20): a stand-in for "more than anything".
  static constexpr Decimal largest() {
    return Decimal(static_cast<Units>(~(static_cast<unsigned __int128>(1) << 127)), 0);
  }

  // Prints with at least the number of fractional digits it was parsed with ("10.50" stays
  // "10.50"), and never loses a digit.
  std::string str() const;

  constexpr Units units() const { return units_; }
  constexpr int scale() const { return scale_; }
  constexpr bool is_zero() const { return units_ == 0; }
  constexpr bool is_negative() const { return units_ < 0; }
  constexpr bool is_positive() const { return units_ > 0; }
  bool is_integer() const { return units_ % kUnitsPerOne == 0; }

  // Checked arithmetic: nullopt on overflow.
  std::optional<Decimal> checked_add(Decimal o) const;
  std::optional<Decimal> checked_sub(Decimal o) const;
  // Throwing arithmetic (std::overflow_error); quantities and prices stay far inside the range.
  Decimal operator+(Decimal o) const;
  Decimal operator-(Decimal o) const;
  Decimal operator-() const;
  Decimal& operator+=(Decimal o) { return *this = *this + o; }
  Decimal& operator-=(Decimal o) { return *this = *this - o; }

  // this * other, rounded to 18 fractional digits; printed with the digits of both operands.
  std::optional<Decimal> checked_mul(Decimal o, Rounding r = Rounding::half_even) const;
  Decimal operator*(Decimal o) const;
  // this / other rounded to 18 digits; nullopt when other is zero or on overflow.
  std::optional<Decimal> checked_div(Decimal o, Rounding r = Rounding::half_even) const;

  // this * (1 + percent/100), e.g. a take-profit 2% above the fill: price.add_percent(2).
  std::optional<Decimal> add_percent(Decimal percent) const;
  // Rounds to a multiple of `increment` (must be positive).
  Decimal round_to(Decimal increment, Rounding r) const;
  // Alpaca's minimum price increment for this price: 0.01 at or above $1.00, 0.0001 below.
  static Decimal price_increment_for(Decimal price);
  // Rounds a price to Alpaca's increment for it.
  Decimal round_price(Rounding r) const;

  Decimal abs() const { return units_ < 0 ? -*this : *this; }
  static Decimal min(Decimal a, Decimal b) { return a < b ? a : b; }
  static Decimal max(Decimal a, Decimal b) { return a < b ? b : a; }

  friend constexpr bool operator==(Decimal a, Decimal b) { return a.units_ == b.units_; }
  friend constexpr std::strong_ordering operator<=>(Decimal a, Decimal b) {
    return a.units_ <=> b.units_;
  }

 private:
  constexpr Decimal(Units units, int scale) : units_(units), scale_(scale) {}
  static int digits_needed(Units units);

  Units units_ = 0;
  int scale_ = 0;  // fractional digits to print (at least), 0..18
};

}  // namespace orderly
