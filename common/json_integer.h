// Integers read from JSON that arrives from outside the process (a stored
// record, a message from another rank): nlohmann's get<T>() converts a float
// such as 1e300 to T with a plain cast, which is undefined behaviour, and
// narrows out-of-range integers silently. This throws instead; the decoders
// that use it already turn an exception from field decoding into a Corruption.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace shardq {

template <typename T>
T JsonInteger(const nlohmann::json& v, const std::string& field) {
  static_assert(std::is_integral_v<T> && std::is_signed_v<T>);
  if (!v.is_number_integer())
    throw std::invalid_argument(field + ": expected an integer, got " + std::string(v.type_name()));
  constexpr int64_t kMin = std::numeric_limits<T>::min();
  constexpr int64_t kMax = std::numeric_limits<T>::max();
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(kMax)
                                           : v.get<int64_t>() >= kMin && v.get<int64_t>() <= kMax;
  if (!fits) throw std::out_of_range(field + ": integer out of range");
  return static_cast<T>(v.get<int64_t>());
}

}  // namespace shardq
