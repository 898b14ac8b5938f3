#include "worker/calibration_stats.h"

#include <cblas.h>

#include <cmath>
#include <cstring>

#include "common/atomic_file.h"
#include "common/byte_io.h"
#include "common/crc32c.h"
#include "common/mapped_file.h"

namespace shardq {
namespace {

constexpr char kMagic[8] = {'S', 'Q', 'S', 'T', 'A', 'T', 'S', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kHasHessian = 1;

}  // namespace

void ChannelStats::Accumulate(const float* x, int64_t n_tokens, bool with_hessian) {
  const int64_t n = n_channels;
  if (sum_sq.empty()) {
    sum_sq.assign(n, 0.0);
    absmax.assign(n, 0.0f);
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* row = x + t * n;
    for (int64_t c = 0; c < n; ++c) {
      const double v = row[c];
      sum_sq[c] += v * v;
      absmax[c] = std::max(absmax[c], std::fabs(row[c]));
    }
  }
  if (with_hessian) {
    if (hessian.empty()) hessian.assign(n * n, 0.0);
    // float64 accumulation, as GPTQ needs: H += X^T X via dsyrk on the upper
    // triangle, then mirrored so the stored matrix is full and symmetric.
    std::vector<double> xd(x, x + n_tokens * n);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(n), static_cast<int>(n_tokens), 1.0,
                xd.data(), static_cast<int>(n), 1.0, hessian.data(), static_cast<int>(n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < i; ++j) hessian[i * n + j] = hessian[j * n + i];
  }
  token_count += n_tokens;
}

Status ChannelStats::Merge(const ChannelStats& o) {
  if (o.token_count == 0) return Status::OK();
  if (token_count == 0) {
    *this = o;
    return Status::OK();
  }
  if (o.n_channels != n_channels)
    return Status::InvalidArgument("cannot merge statistics of " + std::to_string(o.n_channels) +
                                   " channels into " + std::to_string(n_channels));
  for (int64_t c = 0; c < n_channels; ++c) {
    sum_sq[c] += o.sum_sq[c];
    absmax[c] = std::max(absmax[c], o.absmax[c]);
  }
  if (hessian.size() != o.hessian.size()) {
    hessian.clear();  // one side lacks it: the merge cannot have it either
  } else {
    for (size_t i = 0; i < hessian.size(); ++i) hessian[i] += o.hessian[i];
  }
  token_count += o.token_count;
  return Status::OK();
}

std::vector<float> ChannelStats::MeanSquare() const {
  std::vector<float> m(n_channels, 0.0f);
  if (token_count == 0) return m;
  for (int64_t c = 0; c < n_channels; ++c) m[c] = static_cast<float>(sum_sq[c] / token_count);
  return m;
}

ChannelStats& CalibrationStats::Entry(const std::string& name, int64_t n_channels) {
  ChannelStats& s = entries_[name];
  if (s.n_channels == 0) s.n_channels = n_channels;
  return s;
}

const ChannelStats* CalibrationStats::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<uint8_t> CalibrationStats::Encode() const {
  std::vector<uint8_t> body;
  body.insert(body.end(), kMagic, kMagic + 8);
  AppendPod<uint32_t>(&body, kVersion);
  AppendPod<uint32_t>(&body, static_cast<uint32_t>(entries_.size()));
  for (const auto& [name, s] : entries_) {
    AppendPod<uint32_t>(&body, static_cast<uint32_t>(name.size()));
    body.insert(body.end(), name.begin(), name.end());
    AppendPod<uint64_t>(&body, static_cast<uint64_t>(s.n_channels));
    AppendPod<uint64_t>(&body, static_cast<uint64_t>(s.token_count));
    AppendPod<uint32_t>(&body, s.hessian.empty() ? 0u : kHasHessian);
    std::vector<double> sum_sq = s.sum_sq;
    std::vector<float> absmax = s.absmax;
    sum_sq.resize(s.n_channels, 0.0);
    absmax.resize(s.n_channels, 0.0f);
    AppendPods(&body, sum_sq);
    AppendPods(&body, absmax);
    if (!s.hessian.empty()) AppendPods(&body, s.hessian);
  }
  AppendPod<uint32_t>(&body, Crc32c(body.data(), body.size()));
  return body;
}

Status CalibrationStats::Save(const std::string& path) const {
  const std::vector<uint8_t> body = Encode();
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> file, AtomicFile::Create(path));
  SHARDQ_RETURN_IF_ERROR(file->Append(body.data(), body.size()));
  return file->Commit();
}

Result<CalibrationStats> CalibrationStats::Load(const std::string& path) {
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  return Decode(file->data(), file->size(), path);
}

Result<CalibrationStats> CalibrationStats::Decode(const uint8_t* p, uint64_t n, const std::string& path) {
  if (n < 8 + 4 + 4 + 4 || std::memcmp(p, kMagic, 8) != 0)
    return Status::Corruption(path + ": not a shardq statistics file (bad magic)");
  uint32_t stored_crc;
  std::memcpy(&stored_crc, p + n - 4, 4);
  const uint32_t crc = Crc32c(p, n - 4);
  if (crc != stored_crc)
    return Status::Corruption(path + ": checksum mismatch (file damaged or truncated)");
  ByteReader r(p, n - 4, path);
  char magic[8];
  SHARDQ_RETURN_IF_ERROR(r.Read(&magic, "magic"));
  uint32_t version, count;
  SHARDQ_RETURN_IF_ERROR(r.Read(&version, "version"));
  if (version != kVersion)
    return Status::Unsupported(path + ": statistics format version " + std::to_string(version) +
                               " (this shardq reads version " + std::to_string(kVersion) + ")");
  SHARDQ_RETURN_IF_ERROR(r.Read(&count, "entry count"));
  CalibrationStats stats;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t name_len, flags;
    uint64_t channels, tokens;
    std::string name;
    SHARDQ_RETURN_IF_ERROR(r.Read(&name_len, "name length"));
    SHARDQ_RETURN_IF_ERROR(r.ReadString(&name, name_len, "name"));
    SHARDQ_RETURN_IF_ERROR(r.Read(&channels, "channel count"));
    SHARDQ_RETURN_IF_ERROR(r.Read(&tokens, "token count"));
    SHARDQ_RETURN_IF_ERROR(r.Read(&flags, "flags"));
    if (channels == 0 || channels > (1u << 24))
      return Status::Corruption(path + ": entry '" + name + "': implausible channel count " + std::to_string(channels));
    if (stats.entries_.count(name)) return Status::Corruption(path + ": duplicate entry '" + name + "'");
    ChannelStats& s = stats.entries_[name];
    s.n_channels = static_cast<int64_t>(channels);
    s.token_count = static_cast<int64_t>(tokens);
    SHARDQ_RETURN_IF_ERROR(r.ReadPods(&s.sum_sq, channels, "sum of squares"));
    SHARDQ_RETURN_IF_ERROR(r.ReadPods(&s.absmax, channels, "absmax"));
    if (flags & kHasHessian) SHARDQ_RETURN_IF_ERROR(r.ReadPods(&s.hessian, channels * channels, "hessian"));
  }
  if (r.pos() != n - 4) return Status::Corruption(path + ": " + std::to_string(n - 4 - r.pos()) + " trailing bytes");
  return stats;
}

}  // namespace shardq
