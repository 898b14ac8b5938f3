#include "common/tensor_blob.h"

#include <cstring>
#include <limits>

#include "common/crc32c.h"
#include "kernels/block_format.h"

namespace shardq {
namespace {

// docs/formats.md, "Tensor blob". Bumping the version makes old records
// unreadable on purpose: the state store then recomputes them.
constexpr char kMagic[4] = {'S', 'Q', 'T', 'B'};
constexpr uint32_t kVersion = 1;         // the bytes follow
constexpr uint32_t kVersionInPlace = 2;  // the bytes are in the artifact's temp file
constexpr size_t kSha256Bytes = 32;
// Bounds that no real tensor reaches; they keep a corrupted length from
// turning into a huge allocation before the record checksum is checked.
constexpr uint32_t kMaxNameLen = 4096;
constexpr uint32_t kMaxReasonLen = 65536;
constexpr uint32_t kMaxDims = 8;

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void Bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  // Little-endian, whatever the host: the record is a file format.
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void F64(double v) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    U64(u);
  }
  void Str(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    Bytes(s.data(), s.size());
  }

 private:
  std::vector<uint8_t>& out_;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }
  bool Has(size_t k) const { return k <= left(); }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p_[pos_ + i]) << (8 * i);
    pos_ += 8;
    return v;
  }
  double F64() {
    const uint64_t u = U64();
    double v;
    std::memcpy(&v, &u, 8);
    return v;
  }
  const uint8_t* Take(size_t k) {
    const uint8_t* p = p_ + pos_;
    pos_ += k;
    return p;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<uint8_t> EncodeTensorBlob(const TensorBlob& blob) {
  std::vector<uint8_t> out;
  out.reserve(64 + blob.name.size() + blob.reason.size() + 8 * blob.shape.size() + blob.bytes.size());
  Writer w(out);
  w.Bytes(kMagic, 4);
  w.U32(blob.in_place ? kVersionInPlace : kVersion);
  w.Str(blob.name);
  w.U32(static_cast<uint32_t>(blob.type));
  w.U32(static_cast<uint32_t>(blob.shape.size()));
  for (int64_t d : blob.shape) w.U64(static_cast<uint64_t>(d));
  w.F64(blob.metrics.sum_sq_err);
  w.F64(blob.metrics.sum_sq_ref);
  w.F64(blob.metrics.max_abs_err);
  w.U64(static_cast<uint64_t>(blob.metrics.count));
  w.Str(blob.reason);
  if (blob.in_place) {
    w.U64(blob.in_place_size);
    // A missing digest is written as zeros, which no tensor has: caught downstream.
    uint8_t digest[kSha256Bytes] = {};
    if (blob.sha256.size() == kSha256Bytes) std::memcpy(digest, blob.sha256.data(), kSha256Bytes);
    w.Bytes(digest, kSha256Bytes);
  } else {
    w.U64(blob.bytes.size());
    w.Bytes(blob.bytes.data(), blob.bytes.size());
  }
  // The worker's checksum, not a fresh one: a blob damaged before encoding
  // must stay detectably damaged.
  w.U32(blob.crc32c);
  w.U32(Crc32c(out.data(), out.size()));
  return out;
}

Result<TensorBlob> DecodeTensorBlob(const uint8_t* data, size_t n, const std::string& label) {
  auto bad = [&](const std::string& tensor, const std::string& why) {
    const std::string who = tensor.empty() ? "" : "tensor '" + tensor + "': ";
    return Status::Corruption(label + ": " + who + "tensor blob: " + why);
  };
  // Fixed part: magic, version, name_len ... trailing two CRCs.
  if (data == nullptr || n < 16) return bad("", "record of " + std::to_string(n) + " bytes is too short");
  if (std::memcmp(data, kMagic, 4) != 0) return bad("", "bad magic (not a tensor blob)");
  // The record checksum covers everything, so it is checked before any field
  // is trusted; then the framing is parsed with bounds checks all the same.
  uint32_t stored_record_crc = 0;
  for (int i = 0; i < 4; ++i) stored_record_crc |= static_cast<uint32_t>(data[n - 4 + i]) << (8 * i);
  const bool record_crc_ok = Crc32c(data, n - 4) == stored_record_crc;

  Reader r(data, n - 4);
  r.Take(4);
  const uint32_t version = r.U32();
  if (version != kVersion && version != kVersionInPlace) {
    return bad("", "unknown version " + std::to_string(version) + " (expected " + std::to_string(kVersion) + " or " +
                       std::to_string(kVersionInPlace) + ")");
  }
  if (!r.Has(4)) return bad("", "truncated name");
  const uint32_t name_len = r.U32();
  if (name_len > kMaxNameLen || !r.Has(name_len)) return bad("", "name length " + std::to_string(name_len) + " is implausible");
  TensorBlob blob;
  blob.name.assign(reinterpret_cast<const char*>(r.Take(name_len)), name_len);
  // From here on the name is known: errors name the tensor (it may itself be
  // damaged, in which case the record checksum below says so).
  if (!record_crc_ok) return bad(blob.name, "record checksum mismatch");

  if (!r.Has(8)) return bad(blob.name, "truncated type/shape");
  const uint32_t type_id = r.U32();
  if (!IsKnownGgmlType(type_id)) return bad(blob.name, "unknown ggml type id " + std::to_string(type_id));
  blob.type = static_cast<GgmlType>(type_id);
  const uint32_t n_dims = r.U32();
  if (n_dims > kMaxDims || !r.Has(8ull * n_dims)) return bad(blob.name, "implausible dimension count " + std::to_string(n_dims));
  int64_t n_elements = 1;
  for (uint32_t i = 0; i < n_dims; ++i) {
    const uint64_t d = r.U64();
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(n_elements, static_cast<int64_t>(d), &n_elements)) {
      return bad(blob.name, "implausible dimension " + std::to_string(d));
    }
    blob.shape.push_back(static_cast<int64_t>(d));
  }
  if (!r.Has(32)) return bad(blob.name, "truncated metrics");
  blob.metrics.sum_sq_err = r.F64();
  blob.metrics.sum_sq_ref = r.F64();
  blob.metrics.max_abs_err = r.F64();
  blob.metrics.count = static_cast<int64_t>(r.U64());
  if (!r.Has(4)) return bad(blob.name, "truncated reason");
  const uint32_t reason_len = r.U32();
  if (reason_len > kMaxReasonLen || !r.Has(reason_len)) return bad(blob.name, "reason length " + std::to_string(reason_len) + " is implausible");
  blob.reason.assign(reinterpret_cast<const char*>(r.Take(reason_len)), reason_len);
  if (!r.Has(8)) return bad(blob.name, "truncated byte count");
  const uint64_t n_bytes = r.U64();
  if (version == kVersionInPlace) {
    // The bytes are in the artifact's temp file; whoever reads them there checks them.
    if (r.left() != kSha256Bytes + 4) return bad(blob.name, "in-place record of the wrong size");
    blob.in_place = true;
    blob.in_place_size = n_bytes;
    const uint8_t* digest = r.Take(kSha256Bytes);
    blob.sha256.assign(digest, digest + kSha256Bytes);
    blob.crc32c = r.U32();
  } else {
    if (n_bytes > r.left() || r.left() - n_bytes != 4) {
      return bad(blob.name, "byte count " + std::to_string(n_bytes) + " does not match the record size");
    }
    const uint8_t* bytes = r.Take(n_bytes);
    blob.bytes.assign(bytes, bytes + n_bytes);
    blob.crc32c = r.U32();
    if (Crc32c(blob.bytes.data(), blob.bytes.size()) != blob.crc32c)
      return bad(blob.name, "checksum of the tensor bytes does not match");
  }

  // A record that is internally consistent may still not be a tensor of its
  // declared shape: catch that here rather than in the artifact writer.
  if (const BlockFormat* f = FindBlockFormat(blob.type)) {
    const int64_t row = blob.shape.empty() ? 1 : blob.shape.back();
    if (row % f->block_size != 0) {
      return bad(blob.name, "row length " + std::to_string(row) + " is not a multiple of " + GgmlTypeName(blob.type) +
                                "'s block size " + std::to_string(f->block_size));
    }
    const uint64_t expected = static_cast<uint64_t>(n_elements / f->block_size) * f->block_bytes;
    if (expected != n_bytes) {
      return bad(blob.name, std::to_string(n_bytes) + " bytes, but " + GgmlTypeName(blob.type) + " of this shape needs " +
                                std::to_string(expected));
    }
  }
  return blob;
}

}  // namespace shardq
