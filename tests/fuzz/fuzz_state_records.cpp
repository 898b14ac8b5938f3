// The state store's JSON records (job, unit). A record that is a JSON object
// is re-sealed with the right CRC first (the encoder's own rule), else the
// fuzzer would rarely get past the checksum to the field decoding.
#include <string>

#include <nlohmann/json.hpp>

#include "common/crc32c.h"
#include "coordinator/store/state_records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool unit = data[0] & 1;
  std::string value(reinterpret_cast<const char*>(data + 1), size - 1);
  nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_object() && (data[0] & 2)) {
    j.erase("crc32c");
    const std::string body = j.dump();
    j["crc32c"] = shardq::Crc32c(body.data(), body.size());
    value = j.dump();
  }
  if (unit) {
    (void)shardq::DecodeUnitRecord(value, "unit record");
  } else {
    (void)shardq::DecodeJobRecord(value, "job record");
  }
  return 0;
}
