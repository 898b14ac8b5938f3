// A calibration product of the imatrix pipeline: one unit's input statistics
// (worker/calibration_stats.h's encoding of the unit's tensors only: mean x²
// sums, absmax, token count, the float64 Hessian when gathered). Workers send
// one per unit as soon as calibration ends, before compressing any, so a job
// killed mid-compression resumes without calibrating again the units whose
// statistics rank 0 kept. Layout (little-endian, docs/formats.md "Unit
// statistics product"):
//   "SQUS" u32 version=1 | i64 unit | u32 len + inputs fingerprint (hex text)
//   | u64 len + statistics bytes | u32 CRC-32C of all bytes before it
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace shardq {

struct UnitStatsProduct {
  int64_t unit = 0;
  std::string inputs_fingerprint;  // JobRecord::inputs_fingerprint of the run that computed them
  std::vector<uint8_t> stats;      // CalibrationStats::Encode()
};

std::vector<uint8_t> EncodeUnitStatsProduct(const UnitStatsProduct& p);
// Corruption naming `label` on a bad magic, version, size or checksum.
Result<UnitStatsProduct> DecodeUnitStatsProduct(const uint8_t* data, size_t size, const std::string& label);
// InvalidArgument when `p` is another unit's or was computed from other inputs.
Status CheckUnitStatsProduct(const UnitStatsProduct& p, int64_t unit, const std::string& inputs_fingerprint,
                             const std::string& label);

// Whether `bytes` start like a unit-statistics product (else a block-input one).
bool IsUnitStatsProduct(const std::vector<uint8_t>& bytes);

// The state-store key (StateStore::PutStats) of one unit's statistics.
std::string UnitStatsKey(int64_t unit);

}  // namespace shardq
