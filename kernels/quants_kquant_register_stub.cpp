// Placeholder until the KQuant formats land: registers nothing.
#include "kernels/block_format.h"
namespace shardq {
void RegisterKQuantFormats(BlockFormatTable&, bool) {}
}  // namespace shardq
