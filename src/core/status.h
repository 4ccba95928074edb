#pragma once
// Errors as values (LevelDB's Status): returned, never thrown across a module boundary.

#include <string>
#include <utility>

#include "core/result.h"

namespace orderly {

// [[nodiscard]]: an ignored error does not compile. The factory is `success()`, not `ok()`: a
// static `ok()` beside a query let `s.ok()` compile on an error and read as true (issue 21).
class [[nodiscard]] Status {
 public:
  enum class Code { ok, not_found, invalid_argument, corruption, io_error, disk_full, read_only,
                    busy, schema_too_new, conflict, unavailable, internal };

  Status() = default;
  static Status success() { return {}; }
  static Status error(Code c, std::string msg) { return Status(c, std::move(msg)); }

  bool ok() const { return code_ == Code::ok; }
  explicit operator bool() const { return ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::ok;
  std::string message_;
};

std::string_view to_string(Status::Code c);

// A value or a Status.
template <typename T>
class [[nodiscard]] StatusOr : public Result<T, Status> {
 public:
  using Result<T, Status>::Result;
  // The error, or an ok Status when there is a value.
  const Status& status() const {
    static const Status kOk;
    return this->ok() ? kOk : this->error();
  }
};

}  // namespace orderly
