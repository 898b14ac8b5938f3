// The JSON records of the state store (docs/formats.md, "State store keys"):
// a job's and a unit's record, each sealed with a CRC-32C of its own. Apart
// from StateStore so that the decoders can be tested and fuzzed without a
// RocksDB; `what` names the store, job and unit in errors.
#pragma once

#include <string>

#include "common/status.h"
#include "coordinator/store/state_store.h"

namespace shardq {

Result<std::string> EncodeJobRecord(const JobRecord& record, const std::string& what);
Result<JobRecord> DecodeJobRecord(const std::string& value, const std::string& what);

Result<std::string> EncodeUnitRecord(const UnitRecord& record, const std::string& what);
Result<UnitRecord> DecodeUnitRecord(const std::string& value, const std::string& what);

}  // namespace shardq
