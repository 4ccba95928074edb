#include "core/status.h"

namespace orderly {

std::string_view to_string(Status::Code c) {
  using C = Status::Code;
  switch (c) {
    case C::ok: return "ok";
    case C::not_found: return "not found";
    case C::invalid_argument: return "invalid argument";
    case C::corruption: return "corruption";
    case C::io_error: return "I/O error";
    case C::disk_full: return "disk full";
    case C::read_only: return "read-only";
    case C::busy: return "busy";
    case C::schema_too_new: return "schema too new";
    case C::conflict: return "conflict";
    case C::unavailable: return "unavailable";
    case C::internal: return "internal error";
  }
  return "?";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(orderly::to_string(code_)) + ": " + message_;
}

}  // namespace orderly
