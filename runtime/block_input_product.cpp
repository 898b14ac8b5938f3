#include "runtime/block_input_product.h"

#include <cstdio>
#include <cstring>
#include <utility>

#include "common/byte_io.h"
#include "common/crc32c.h"

namespace shardq {
namespace {

constexpr char kMagic[4] = {'S', 'Q', 'B', 'I'};
constexpr uint32_t kVersion = 1;
// Bounds that keep a damaged header from asking for absurd allocations.
constexpr uint32_t kMaxFingerprint = 1024;
constexpr uint32_t kMaxWindows = 1 << 20;

}  // namespace

namespace {

// `window(i)` gives window i's floats and their count.
template <typename WindowFn>
std::vector<uint8_t> Encode(int64_t layer, const std::string& fingerprint, int64_t dim,
                            const std::vector<int64_t>& window_tokens, WindowFn window) {
  uint64_t floats = 0;
  for (int64_t n : window_tokens) floats += static_cast<uint64_t>(n * dim);
  std::vector<uint8_t> out;
  out.reserve(64 + fingerprint.size() + 8 * window_tokens.size() + 4 * floats);
  out.insert(out.end(), kMagic, kMagic + 4);
  AppendPod<uint32_t>(&out, kVersion);
  AppendPod<int64_t>(&out, layer);
  AppendPod<uint32_t>(&out, static_cast<uint32_t>(fingerprint.size()));
  out.insert(out.end(), fingerprint.begin(), fingerprint.end());
  AppendPod<int64_t>(&out, dim);
  AppendPod<uint32_t>(&out, static_cast<uint32_t>(window_tokens.size()));
  AppendPods(&out, window_tokens);
  for (size_t i = 0; i < window_tokens.size(); ++i) {
    const auto [data, n] = window(i);
    const size_t at = out.size();
    out.resize(at + n * sizeof(float));
    std::memcpy(out.data() + at, data, n * sizeof(float));
  }
  AppendPod<uint32_t>(&out, Crc32c(out.data(), out.size()));
  return out;
}

}  // namespace

std::vector<uint8_t> EncodeBlockInputProduct(const BlockInputProduct& p) {
  std::vector<size_t> starts;
  size_t at = 0;
  for (int64_t n : p.window_tokens) {
    starts.push_back(at);
    at += static_cast<size_t>(n * p.dim);
  }
  return Encode(p.layer, p.inputs_fingerprint, p.dim, p.window_tokens, [&](size_t i) {
    return std::pair<const float*, size_t>(p.hidden.data() + starts[i], static_cast<size_t>(p.window_tokens[i] * p.dim));
  });
}

std::vector<uint8_t> EncodeBlockInputWindows(int64_t layer, const std::string& inputs_fingerprint, int64_t dim,
                                             const std::vector<std::vector<float>>& windows) {
  std::vector<int64_t> tokens;
  for (const auto& w : windows) tokens.push_back(static_cast<int64_t>(w.size()) / dim);
  return Encode(layer, inputs_fingerprint, dim, tokens, [&](size_t i) {
    return std::pair<const float*, size_t>(windows[i].data(), windows[i].size());
  });
}

Result<BlockInputProduct> DecodeBlockInputProduct(const uint8_t* data, size_t size, const std::string& label,
                                                  bool with_hidden) {
  if (size < 8 + sizeof(uint32_t)) return Status::Corruption(label + ": " + std::to_string(size) + " bytes, too short");
  uint32_t stored = 0;
  std::memcpy(&stored, data + size - sizeof(stored), sizeof(stored));
  if (Crc32c(data, size - sizeof(stored)) != stored) return Status::Corruption(label + ": checksum mismatch");
  if (std::memcmp(data, kMagic, 4) != 0) return Status::Corruption(label + ": not a block-input product (bad magic)");
  ByteReader r(data + 4, size - 4 - sizeof(stored), label);
  uint32_t version = 0, fp_len = 0, n_windows = 0;
  BlockInputProduct p;
  SHARDQ_RETURN_IF_ERROR(r.Read(&version, "version"));
  if (version != kVersion) return Status::Corruption(label + ": version " + std::to_string(version) + ", expected 1");
  SHARDQ_RETURN_IF_ERROR(r.Read(&p.layer, "layer"));
  SHARDQ_RETURN_IF_ERROR(r.Read(&fp_len, "fingerprint length"));
  if (fp_len > kMaxFingerprint)
    return Status::Corruption(label + ": fingerprint of " + std::to_string(fp_len) + " bytes");
  SHARDQ_RETURN_IF_ERROR(r.ReadString(&p.inputs_fingerprint, fp_len, "fingerprint"));
  SHARDQ_RETURN_IF_ERROR(r.Read(&p.dim, "dim"));
  SHARDQ_RETURN_IF_ERROR(r.Read(&n_windows, "window count"));
  if (p.layer < 0 || p.dim <= 0 || n_windows == 0 || n_windows > kMaxWindows)
    return Status::Corruption(label + ": layer " + std::to_string(p.layer) + ", dim " + std::to_string(p.dim) + ", " +
                              std::to_string(n_windows) + " windows");
  SHARDQ_RETURN_IF_ERROR(r.ReadPods(&p.window_tokens, n_windows, "window lengths"));
  uint64_t tokens = 0;
  for (int64_t n : p.window_tokens) {
    if (n <= 0) return Status::Corruption(label + ": a window of " + std::to_string(n) + " tokens");
    tokens += static_cast<uint64_t>(n);
  }
  const uint64_t floats = r.remaining() / sizeof(float);
  if (r.remaining() % sizeof(float) != 0 || tokens > floats || floats != tokens * static_cast<uint64_t>(p.dim))
    return Status::Corruption(label + ": " + std::to_string(r.remaining()) + " bytes of hidden states for " +
                              std::to_string(tokens) + " tokens of dim " + std::to_string(p.dim));
  if (with_hidden) SHARDQ_RETURN_IF_ERROR(r.ReadPods(&p.hidden, floats, "hidden states"));
  return p;
}

Status CheckBlockInputProduct(const BlockInputProduct& p, int64_t layer, const std::string& inputs_fingerprint,
                              const std::string& label) {
  if (p.layer != layer)
    return Status::InvalidArgument(label + ": holds the input of block " + std::to_string(p.layer) + ", expected " +
                                   std::to_string(layer));
  if (p.inputs_fingerprint != inputs_fingerprint)
    return Status::InvalidArgument(label + ": computed from other inputs (fingerprint " + p.inputs_fingerprint +
                                   ", now " + inputs_fingerprint + ")");
  return Status::OK();
}

std::string BlockInputKey(int64_t layer) {
  char key[48];
  std::snprintf(key, sizeof(key), "block-input/%06lld", static_cast<long long>(layer));
  return key;
}

}  // namespace shardq
