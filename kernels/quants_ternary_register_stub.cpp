// Placeholder until the Ternary formats land: registers nothing.
#include "kernels/block_format.h"
namespace shardq {
void RegisterTernaryFormats(BlockFormatTable&, bool) {}
}  // namespace shardq
