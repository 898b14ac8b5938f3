#include "runtime/unit_stats_product.h"

#include <cstdio>
#include <cstring>

#include "common/byte_io.h"
#include "common/crc32c.h"

namespace shardq {
namespace {

constexpr char kMagic[4] = {'S', 'Q', 'U', 'S'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kMaxFingerprint = 1024;  // keeps a damaged length from asking for a huge string

}  // namespace

std::vector<uint8_t> EncodeUnitStatsProduct(const UnitStatsProduct& p) {
  std::vector<uint8_t> out;
  out.reserve(36 + p.inputs_fingerprint.size() + p.stats.size());
  out.insert(out.end(), kMagic, kMagic + 4);
  AppendPod<uint32_t>(&out, kVersion);
  AppendPod<int64_t>(&out, p.unit);
  AppendPod<uint32_t>(&out, static_cast<uint32_t>(p.inputs_fingerprint.size()));
  out.insert(out.end(), p.inputs_fingerprint.begin(), p.inputs_fingerprint.end());
  AppendPod<uint64_t>(&out, p.stats.size());
  out.insert(out.end(), p.stats.begin(), p.stats.end());
  AppendPod<uint32_t>(&out, Crc32c(out.data(), out.size()));
  return out;
}

Result<UnitStatsProduct> DecodeUnitStatsProduct(const uint8_t* data, size_t size, const std::string& label) {
  if (size < 8 + sizeof(uint32_t)) return Status::Corruption(label + ": " + std::to_string(size) + " bytes, too short");
  uint32_t stored = 0;
  std::memcpy(&stored, data + size - sizeof(stored), sizeof(stored));
  if (Crc32c(data, size - sizeof(stored)) != stored) return Status::Corruption(label + ": checksum mismatch");
  if (std::memcmp(data, kMagic, 4) != 0) return Status::Corruption(label + ": not a unit-statistics product (bad magic)");
  ByteReader r(data + 4, size - 4 - sizeof(stored), label);
  uint32_t version = 0, fp_len = 0;
  uint64_t n = 0;
  UnitStatsProduct p;
  SHARDQ_RETURN_IF_ERROR(r.Read(&version, "version"));
  if (version != kVersion) return Status::Corruption(label + ": version " + std::to_string(version) + ", expected 1");
  SHARDQ_RETURN_IF_ERROR(r.Read(&p.unit, "unit"));
  SHARDQ_RETURN_IF_ERROR(r.Read(&fp_len, "fingerprint length"));
  if (fp_len > kMaxFingerprint) return Status::Corruption(label + ": fingerprint of " + std::to_string(fp_len) + " bytes");
  SHARDQ_RETURN_IF_ERROR(r.ReadString(&p.inputs_fingerprint, fp_len, "fingerprint"));
  SHARDQ_RETURN_IF_ERROR(r.Read(&n, "statistics length"));
  if (n != r.remaining())
    return Status::Corruption(label + ": " + std::to_string(n) + " bytes of statistics declared, " +
                              std::to_string(r.remaining()) + " present");
  SHARDQ_RETURN_IF_ERROR(r.ReadPods(&p.stats, n, "statistics"));
  if (p.unit < 0) return Status::Corruption(label + ": unit " + std::to_string(p.unit));
  return p;
}

Status CheckUnitStatsProduct(const UnitStatsProduct& p, int64_t unit, const std::string& inputs_fingerprint,
                             const std::string& label) {
  if (p.unit != unit)
    return Status::InvalidArgument(label + ": holds the statistics of unit " + std::to_string(p.unit) + ", expected " +
                                   std::to_string(unit));
  if (p.inputs_fingerprint != inputs_fingerprint)
    return Status::InvalidArgument(label + ": computed from other inputs (fingerprint " + p.inputs_fingerprint +
                                   ", now " + inputs_fingerprint + ")");
  return Status::OK();
}

bool IsUnitStatsProduct(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 4 && std::memcmp(bytes.data(), kMagic, 4) == 0;
}

std::string UnitStatsKey(int64_t unit) {
  char key[48];
  std::snprintf(key, sizeof(key), "unit-stats/%06lld", static_cast<long long>(unit));
  return key;
}

}  // namespace shardq
