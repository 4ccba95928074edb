// The error vocabulary (issue 21): one Result, a Status whose factory is not its predicate,
// and invariants that stay on in release builds.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>

#include "core/check.h"
#include "core/status.h"

namespace orderly {
namespace {

StatusOr<int> parse_positive(int v) {
  if (v <= 0) return Status::error(Status::Code::invalid_argument, "not positive");
  return v;
}

TEST(Status, TheFactoryIsNotThePredicate) {
  const Status failed = Status::error(Status::Code::io_error, "disk");
  EXPECT_FALSE(failed.ok());  // with a static ok() factory this read as true
  EXPECT_FALSE(static_cast<bool>(failed));
  EXPECT_TRUE(Status::success().ok());
  EXPECT_EQ(failed.to_string(), "I/O error: disk");
  // The predicate is a bool, not another Status.
  static_assert(std::is_same_v<decltype(failed.ok()), bool>);
}

TEST(Status, StatusOrCarriesAValueOrTheError) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().ok());
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::invalid_argument);
  EXPECT_EQ(bad.error().message(), "not positive");
}

TEST(Check, ABrokenInvariantThrowsWithItsConditionAndDetail) {
  int evaluated = 0;
  auto detail = [&] {
    ++evaluated;
    return std::string("filled 3 -> 2");
  };
  ORDERLY_ASSERT(1 + 1 == 2, detail());
  EXPECT_EQ(evaluated, 0) << "the detail is built only when the condition fails";
  try {
    ORDERLY_ASSERT(2 < 1, detail());
    FAIL() << "no throw";
  } catch (const InvariantBroken& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("2 < 1"), std::string::npos) << what;
    EXPECT_NE(what.find("filled 3 -> 2"), std::string::npos) << what;
    EXPECT_NE(what.find("status_test.cc"), std::string::npos) << what;
  }
  EXPECT_EQ(evaluated, 1);
}

}  // namespace
}  // namespace orderly
