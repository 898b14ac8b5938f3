// Errors are values (LevelDB's Status): a code plus a message that names the
// file, tensor or field and the reason. Nothing throws across module seams.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace shardq {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad user input: a spec field, a CLI flag, a type name
    kNotFound,         // a file, tensor or key that does not exist
    kCorruption,       // bytes that contradict their own format
    kIOError,          // the OS refused: open, read, write, rename, mmap
    kUnsupported,      // valid input that shardq does not handle
    kInternal,         // a bug in shardq
    kBusy,             // another process holds it: an output path, a state directory
    kCancelled,        // stopped on request (SIGTERM/SIGINT); resumable
    kConflict,         // the request contradicts current state: an output another job owns, resuming a running job
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Unsupported(std::string msg) { return Status(Code::kUnsupported, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status Cancelled(std::string msg) { return Status(Code::kCancelled, std::move(msg)); }
  static Status Conflict(std::string msg) { return Status(Code::kConflict, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corruption: model.safetensors: tensor 'x': offsets past end of file"
  std::string ToString() const;
  // Prepends context ("file.gguf: ") to the message; keeps the code.
  Status WithContext(const std::string& prefix) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* StatusCodeName(Status::Code code);

// A value or the Status that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}           // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}   // NOLINT: must not be OK
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace shardq

#define SHARDQ_CONCAT_INNER(a, b) a##b
#define SHARDQ_CONCAT(a, b) SHARDQ_CONCAT_INNER(a, b)

#define SHARDQ_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::shardq::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

#define SHARDQ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

// SHARDQ_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
#define SHARDQ_ASSIGN_OR_RETURN(lhs, expr) \
  SHARDQ_ASSIGN_OR_RETURN_IMPL(SHARDQ_CONCAT(_res_, __LINE__), lhs, expr)
