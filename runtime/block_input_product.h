// A calibration product that outlives the rank that made it: the full-precision
// (teacher) hidden states entering one transformer block, on every calibration
// window. GPTQ/AWQ workers send one per block unit they compress (the unit's
// teacher output = the next block's input); rank 0 keeps it in the state store,
// and a resumed job hands it to the rank whose first unit still to do is that
// block, so the calibration forward pass restarts there instead of at the
// embeddings. Layout (little-endian, docs/formats.md "Block-input products"):
//   "SQBI" u32 version=1 | i64 layer | u32 len + inputs fingerprint (hex text)
//   | i64 dim | u32 n_windows | i64 tokens per window x n_windows
//   | f32 hidden states, the windows end to end | u32 CRC-32C of all bytes before it
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace shardq {

struct BlockInputProduct {
  int64_t layer = 0;               // the block these states enter (n_layers: the head's input)
  std::string inputs_fingerprint;  // JobRecord::inputs_fingerprint of the run that computed them
  int64_t dim = 0;
  std::vector<int64_t> window_tokens;  // per window
  std::vector<float> hidden;           // sum(window_tokens) x dim
};

std::vector<uint8_t> EncodeBlockInputProduct(const BlockInputProduct& p);
// The same bytes from states kept one vector per window (n_tokens x dim each),
// without first copying them end to end.
std::vector<uint8_t> EncodeBlockInputWindows(int64_t layer, const std::string& inputs_fingerprint, int64_t dim,
                                             const std::vector<std::vector<float>>& windows);
// Corruption naming `label` on a bad magic, version, size or checksum. Without
// `with_hidden` every check is made but `hidden` is left empty (rank 0 checks
// products it only stores, without copying MBs of states).
Result<BlockInputProduct> DecodeBlockInputProduct(const uint8_t* data, size_t size, const std::string& label,
                                                  bool with_hidden = true);
// Checks a decoded product is the one asked for: the layer and the fingerprint of
// the job's inputs (text + weights); else InvalidArgument saying which differs.
Status CheckBlockInputProduct(const BlockInputProduct& p, int64_t layer, const std::string& inputs_fingerprint,
                              const std::string& label);

// The state-store key (StateStore::PutStats) of the states entering `layer`.
std::string BlockInputKey(int64_t layer);

}  // namespace shardq
