#include "common/gguf_value.h"

#include <cmath>
#include <limits>

namespace shardq {

const char* GgufValueTypeName(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: return "u8";
    case GgufValueType::INT8: return "i8";
    case GgufValueType::UINT16: return "u16";
    case GgufValueType::INT16: return "i16";
    case GgufValueType::UINT32: return "u32";
    case GgufValueType::INT32: return "i32";
    case GgufValueType::FLOAT32: return "f32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "str";
    case GgufValueType::ARRAY: return "arr";
    case GgufValueType::UINT64: return "u64";
    case GgufValueType::INT64: return "i64";
    case GgufValueType::FLOAT64: return "f64";
  }
  return "?";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::UINT8: case GgufValueType::UINT16: case GgufValueType::UINT32:
    case GgufValueType::UINT64: case GgufValueType::INT8: case GgufValueType::INT16:
    case GgufValueType::INT32: case GgufValueType::INT64:
      return true;
    default:
      return false;
  }
}

int64_t GgufValue::as_int() const {
  switch (type) {
    case GgufValueType::UINT8: case GgufValueType::UINT16: case GgufValueType::UINT32:
    case GgufValueType::UINT64:
      return static_cast<int64_t>(u);
    case GgufValueType::INT8: case GgufValueType::INT16: case GgufValueType::INT32:
    case GgufValueType::INT64:
      return i;
    case GgufValueType::FLOAT32: case GgufValueType::FLOAT64:
      // Saturating: the value comes from a file, and casting NaN or a float
      // beyond int64's range is undefined behaviour (found by fuzz_gguf).
      if (std::isnan(f)) return 0;
      if (f >= 9223372036854775808.0) return std::numeric_limits<int64_t>::max();
      if (f <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
      return static_cast<int64_t>(f);
    case GgufValueType::BOOL:
      return b ? 1 : 0;
    default:
      return 0;
  }
}

double GgufValue::as_double() const {
  if (type == GgufValueType::FLOAT32 || type == GgufValueType::FLOAT64) return f;
  return static_cast<double>(as_int());
}

bool GgufValue::operator==(const GgufValue& o) const {
  if (type != o.type) return false;
  switch (type) {
    case GgufValueType::UINT8: case GgufValueType::UINT16: case GgufValueType::UINT32:
    case GgufValueType::UINT64:
      return u == o.u;
    case GgufValueType::INT8: case GgufValueType::INT16: case GgufValueType::INT32:
    case GgufValueType::INT64:
      return i == o.i;
    case GgufValueType::FLOAT32: case GgufValueType::FLOAT64:
      return f == o.f;
    case GgufValueType::BOOL:
      return b == o.b;
    case GgufValueType::STRING:
      return s == o.s;
    case GgufValueType::ARRAY:
      return array_type == o.array_type && arr == o.arr;
  }
  return false;
}

void GgufMetadata::Set(const std::string& key, GgufValue v) {
  for (auto& kv : entries_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  entries_.emplace_back(key, std::move(v));
}

const GgufValue* GgufMetadata::Find(const std::string& key) const {
  for (const auto& kv : entries_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

bool GgufMetadata::Erase(const std::string& key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first == key) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

}  // namespace shardq
