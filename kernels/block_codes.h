// Where each ggml weight format keeps its codes inside a block: the stored
// levels, in value order, 0..15 (Q4_0, Q4_1, IQ4_NL index), 0..31 (Q5_0, Q5_1),
// -127..127 (Q8_0), 0..3 (Q2_K), 0..7 (Q3_K: low 2 bits + high bit), 0..15 /
// 0..31 (Q4_K / Q5_K), 0..63 (Q6_K), 0..2 (TQ1_0, TQ2_0 trits). The block's
// other fields (scales, mins) are left as they are.
#pragma once

#include <cstdint>

#include "kernels/ggml_type.h"

namespace shardq::grid {

// Reads the block_size codes of one encoded block.
void UnpackBlockCodes(GgmlType type, const uint8_t* block, int8_t* codes);
// Writes block_size codes into an encoded block, replacing the old ones.
void PackBlockCodes(GgmlType type, const int16_t* codes, uint8_t* block);

}  // namespace shardq::grid
