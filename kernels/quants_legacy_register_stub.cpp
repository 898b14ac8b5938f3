// Placeholder until the Legacy formats land: registers nothing.
#include "kernels/block_format.h"
namespace shardq {
void RegisterLegacyFormats(BlockFormatTable&, bool) {}
}  // namespace shardq
