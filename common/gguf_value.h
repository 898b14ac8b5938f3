// One GGUF metadata value (GGUF v3 spec: 13 value types, arrays of any of them).
// Readers keep the type they found so a model's metadata can be carried through
// to the output unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace shardq {

enum class GgufValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

const char* GgufValueTypeName(GgufValueType t);

struct GgufValue {
  GgufValueType type = GgufValueType::UINT32;
  GgufValueType array_type = GgufValueType::UINT8;  // element type when type == ARRAY
  // Exactly one of these is meaningful, chosen by `type`: unsigned ints in u,
  // signed ints in i, FLOAT32/FLOAT64 in f, BOOL in b, STRING in s, ARRAY in arr.
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  std::vector<GgufValue> arr;

  static GgufValue U8(uint8_t v) { return Unsigned(GgufValueType::UINT8, v); }
  static GgufValue U16(uint16_t v) { return Unsigned(GgufValueType::UINT16, v); }
  static GgufValue U32(uint32_t v) { return Unsigned(GgufValueType::UINT32, v); }
  static GgufValue U64(uint64_t v) { return Unsigned(GgufValueType::UINT64, v); }
  static GgufValue I8(int8_t v) { return Signed(GgufValueType::INT8, v); }
  static GgufValue I16(int16_t v) { return Signed(GgufValueType::INT16, v); }
  static GgufValue I32(int32_t v) { return Signed(GgufValueType::INT32, v); }
  static GgufValue I64(int64_t v) { return Signed(GgufValueType::INT64, v); }
  static GgufValue F32(float v) { GgufValue x; x.type = GgufValueType::FLOAT32; x.f = v; return x; }
  static GgufValue F64(double v) { GgufValue x; x.type = GgufValueType::FLOAT64; x.f = v; return x; }
  static GgufValue Bool(bool v) { GgufValue x; x.type = GgufValueType::BOOL; x.b = v; return x; }
  static GgufValue Str(std::string v) { GgufValue x; x.type = GgufValueType::STRING; x.s = std::move(v); return x; }
  static GgufValue Array(GgufValueType elem, std::vector<GgufValue> items) {
    GgufValue x; x.type = GgufValueType::ARRAY; x.array_type = elem; x.arr = std::move(items); return x;
  }

  bool is_integer() const;
  // Numeric value of an integer/float/bool scalar, whatever its width.
  int64_t as_int() const;
  double as_double() const;

  bool operator==(const GgufValue& o) const;

 private:
  static GgufValue Unsigned(GgufValueType t, uint64_t v) { GgufValue x; x.type = t; x.u = v; return x; }
  static GgufValue Signed(GgufValueType t, int64_t v) { GgufValue x; x.type = t; x.i = v; return x; }
};

// Ordered key/value list: GGUF keeps insertion order, and so do we.
class GgufMetadata {
 public:
  void Set(const std::string& key, GgufValue v);  // replaces in place or appends
  // Appends without looking for `key`: for readers that have checked it is new
  // (Set is linear in the number of keys).
  void Append(const std::string& key, GgufValue v) { entries_.emplace_back(key, std::move(v)); }
  const GgufValue* Find(const std::string& key) const;
  bool Erase(const std::string& key);
  const std::vector<std::pair<std::string, GgufValue>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, GgufValue>> entries_;
};

}  // namespace shardq
