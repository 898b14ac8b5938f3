// AssembleGguf over the state store, in its own file so that code (and tests)
// using only the fetcher overload do not link the RocksDB-backed store.
#include "coordinator/artifact/assembler.h"

namespace shardq {

Result<AssembleResult> AssembleGguf(StateStore& store, const AssembleInput& in) {
  return AssembleGguf(
      [&store, &in](const std::string& tensor) { return store.GetBlob(in.job_id, tensor); }, in);
}

}  // namespace shardq
