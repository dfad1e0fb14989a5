// The one error type that crosses module boundaries, and Result<T>.
//
// Messages are written for the operator: they name the thing to fix (a config
// key, a file, an address) rather than the code path that noticed.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace linewatch {

enum class ErrorCode {
  invalid_argument,  // bad input from config, CLI or API
  not_found,         // a named line, target or file does not exist
  io,                // a file, socket or database operation failed
  unavailable,       // a peer (agent, server) is not reachable
  internal,          // a bug or an unexpected library failure
};

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
};

inline Error invalid(std::string m) { return {ErrorCode::invalid_argument, std::move(m)}; }
inline Error io_error(std::string m) { return {ErrorCode::io, std::move(m)}; }

// Either a value or an Error. A minimal stand-in for C++23 std::expected.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}    // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For operations with no value to return.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace linewatch
