#pragma once
// Errors as values (LevelDB's Status): returned, never thrown across a module boundary.

#include <string>
#include <utility>
#include <variant>

namespace orderly {

class Status {
 public:
  enum class Code { ok, not_found, invalid_argument, corruption, io_error, disk_full, read_only,
                    busy, schema_too_new, conflict, unavailable, internal };

  Status() = default;
  static Status ok() { return {}; }
  static Status error(Code c, std::string msg) { return Status(c, std::move(msg)); }

  bool is_ok() const { return code_ == Code::ok; }
  explicit operator bool() const { return is_ok(); }
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
class StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status s) : v_(std::move(s)) {}     // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace orderly
