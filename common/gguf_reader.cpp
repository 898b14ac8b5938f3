#include "common/gguf_reader.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_set>

namespace shardq {
namespace {

struct Geometry {
  GgmlType type;
  int64_t block_size;
  uint64_t block_bytes;
};
constexpr Geometry kGeometry[] = {
    {GgmlType::F32, 1, 4},       {GgmlType::F16, 1, 2},       {GgmlType::Q4_0, 32, 18},
    {GgmlType::Q4_1, 32, 20},    {GgmlType::Q5_0, 32, 22},    {GgmlType::Q5_1, 32, 24},
    {GgmlType::Q8_0, 32, 34},    {GgmlType::Q8_1, 32, 36},    {GgmlType::Q2_K, 256, 84},
    {GgmlType::Q3_K, 256, 110},  {GgmlType::Q4_K, 256, 144},  {GgmlType::Q5_K, 256, 176},
    {GgmlType::Q6_K, 256, 210},  {GgmlType::Q8_K, 256, 292},  {GgmlType::IQ4_NL, 32, 18},
    {GgmlType::I8, 1, 1},        {GgmlType::I16, 1, 2},       {GgmlType::I32, 1, 4},
    {GgmlType::I64, 1, 8},       {GgmlType::F64, 1, 8},       {GgmlType::BF16, 1, 2},
    {GgmlType::TQ1_0, 256, 54},  {GgmlType::TQ2_0, 256, 66},
};

constexpr int kMaxDims = 4;          // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 16;   // nesting beyond this is a malformed file, not a model
// Every metadata value becomes a GgufValue of ~100 bytes however few bytes it
// took in the file (a u8 takes one): without a cap a 100 MB file of u8 arrays
// would allocate 10 GB. The largest vocabularies (256K tokens, with scores,
// types and merges) need about 1M values.
constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 23;

// Bounds-checked little-endian reader over the mapped header; every failure
// says what was being read and at which offset.
class Cursor {
 public:
  Cursor(const MappedFile& f) : data_(f.data()), size_(f.size()), label_(f.path()) {}
  // Charges `n` metadata values against kMaxMetadataValues.
  Status CountValues(uint64_t n, const std::string& key) {
    if (n > values_left_)
      return Status::Corruption(label_ + ": key '" + key + "': more than " + std::to_string(kMaxMetadataValues) +
                                " metadata values in the file");
    values_left_ -= n;
    return Status::OK();
  }
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const std::string& label() const { return label_; }

  Status Truncated(const std::string& what) const {
    return Status::Corruption(label_ + ": truncated: " + what + " at offset " + std::to_string(pos_) +
                              " runs past the end of the file (" + std::to_string(size_) + " bytes)");
  }
  template <typename T>
  Status Read(T* v, const std::string& what) {
    if (remaining() < sizeof(T)) return Truncated(what);
    std::memcpy(v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::OK();
  }
  Status ReadString(std::string* s, const std::string& what) {
    uint64_t n = 0;
    SHARDQ_RETURN_IF_ERROR(Read(&n, what + " length"));
    if (n > remaining())
      return Status::Corruption(label_ + ": " + what + " length " + std::to_string(n) + " at offset " +
                                std::to_string(pos_ - 8) + " runs past the end of the file (" +
                                std::to_string(size_) + " bytes)");
    s->assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return Status::OK();
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string label_;
  uint64_t values_left_ = kMaxMetadataValues;
};

// Smallest encoding of one value of `t` (used to reject absurd array counts
// before allocating).
uint64_t MinValueBytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
  }
  return 1;
}

bool ValidValueType(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

Status ReadValue(Cursor& c, GgufValueType type, const std::string& key, int depth, GgufValue* v) {
  v->type = type;
  const std::string what = "value of '" + key + "'";
  switch (type) {
    case GgufValueType::UINT8: { uint8_t x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->u = x; break; }
    case GgufValueType::UINT16: { uint16_t x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->u = x; break; }
    case GgufValueType::UINT32: { uint32_t x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->u = x; break; }
    case GgufValueType::UINT64: { uint64_t x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->u = x; break; }
    case GgufValueType::INT8: { int8_t x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->i = x; break; }
    case GgufValueType::INT16: { int16_t x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->i = x; break; }
    case GgufValueType::INT32: { int32_t x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->i = x; break; }
    case GgufValueType::INT64: { int64_t x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->i = x; break; }
    case GgufValueType::FLOAT32: { float x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->f = x; break; }
    case GgufValueType::FLOAT64: { double x{}; SHARDQ_RETURN_IF_ERROR(c.Read(&x, what)); v->f = x; break; }
    case GgufValueType::BOOL: {
      uint8_t x = 0;
      SHARDQ_RETURN_IF_ERROR(c.Read(&x, what));
      if (x > 1)
        return Status::Corruption(c.label() + ": key '" + key + "': bool value " + std::to_string(x) +
                                  " is neither 0 nor 1");
      v->b = x != 0;
      break;
    }
    case GgufValueType::STRING: SHARDQ_RETURN_IF_ERROR(c.ReadString(&v->s, what)); break;
    case GgufValueType::ARRAY: {
      if (depth >= kMaxArrayDepth)
        return Status::Corruption(c.label() + ": key '" + key + "': arrays nested deeper than " +
                                  std::to_string(kMaxArrayDepth));
      uint32_t et = 0;
      uint64_t n = 0;
      SHARDQ_RETURN_IF_ERROR(c.Read(&et, what + " element type"));
      if (!ValidValueType(et))
        return Status::Corruption(c.label() + ": key '" + key + "': unknown array element type " +
                                  std::to_string(et));
      SHARDQ_RETURN_IF_ERROR(c.Read(&n, what + " element count"));
      v->array_type = static_cast<GgufValueType>(et);
      if (n > c.remaining() / MinValueBytes(v->array_type))
        return Status::Corruption(c.label() + ": key '" + key + "': array of " + std::to_string(n) +
                                  " elements runs past the end of the file");
      SHARDQ_RETURN_IF_ERROR(c.CountValues(n, key));
      v->arr.resize(n);
      for (uint64_t k = 0; k < n; ++k)
        SHARDQ_RETURN_IF_ERROR(ReadValue(c, v->array_type, key, depth + 1, &v->arr[k]));
      break;
    }
  }
  return Status::OK();
}

}  // namespace

bool GgmlTypeGeometry(GgmlType type, int64_t* block_size, uint64_t* block_bytes) {
  for (const auto& g : kGeometry) {
    if (g.type == type) {
      *block_size = g.block_size;
      *block_bytes = g.block_bytes;
      return true;
    }
  }
  return false;
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  auto g = std::unique_ptr<GgufFile>(new GgufFile());
  SHARDQ_ASSIGN_OR_RETURN(g->file_, MappedFile::Open(path));
  Cursor c(*g->file_);

  char magic[4];
  SHARDQ_RETURN_IF_ERROR(c.Read(&magic, "magic"));
  if (std::memcmp(magic, "GGUF", 4) != 0)
    return Status::Corruption(path + ": bad magic (not a GGUF file)");
  SHARDQ_RETURN_IF_ERROR(c.Read(&g->version_, "version"));
  if (g->version_ != 2 && g->version_ != 3) {
    if (g->version_ > 0xffff)
      return Status::Unsupported(path + ": version field " + std::to_string(g->version_) +
                                 " looks byte-swapped; big-endian GGUF is not supported");
    return Status::Unsupported(path + ": GGUF version " + std::to_string(g->version_) +
                               " (supported: 2, 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  SHARDQ_RETURN_IF_ERROR(c.Read(&n_tensors, "tensor count"));
  SHARDQ_RETURN_IF_ERROR(c.Read(&n_kv, "metadata count"));
  // Each key/value needs >= 13 bytes and each tensor info >= 24: cheaper counts are lies.
  if (n_kv > c.remaining() / 13)
    return Status::Corruption(path + ": metadata count " + std::to_string(n_kv) +
                              " cannot fit in the file");
  if (n_tensors > c.remaining() / 24)
    return Status::Corruption(path + ": tensor count " + std::to_string(n_tensors) +
                              " cannot fit in the file");

  // A set, not GgufMetadata::Find: a file may hold ~size/13 keys, and a
  // linear search per key would make that quadratic.
  std::unordered_set<std::string> keys;
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    SHARDQ_RETURN_IF_ERROR(c.ReadString(&key, "key " + std::to_string(k)));
    uint32_t type = 0;
    SHARDQ_RETURN_IF_ERROR(c.Read(&type, "type of key '" + key + "'"));
    if (!ValidValueType(type))
      return Status::Corruption(path + ": key '" + key + "': unknown value type " + std::to_string(type));
    if (!keys.insert(key).second) return Status::Corruption(path + ": duplicate metadata key '" + key + "'");
    SHARDQ_RETURN_IF_ERROR(c.CountValues(1, key));
    GgufValue v;
    SHARDQ_RETURN_IF_ERROR(ReadValue(c, static_cast<GgufValueType>(type), key, 0, &v));
    g->metadata_.Append(key, std::move(v));
  }

  if (const GgufValue* a = g->metadata_.Find("general.alignment")) {
    if (a->type != GgufValueType::UINT32 || a->u == 0 || (a->u & (a->u - 1)) != 0)
      return Status::Corruption(path + ": general.alignment must be a u32 power of two, got " +
                                GgufValueTypeName(a->type) + " " + std::to_string(a->as_int()));
    g->alignment_ = a->u;
  }

  std::set<std::string> names;
  std::vector<uint64_t> rel_offsets;
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo t;
    SHARDQ_RETURN_IF_ERROR(c.ReadString(&t.name, "tensor name " + std::to_string(k)));
    const std::string where = path + ": tensor '" + t.name + "': ";
    uint32_t n_dims = 0;
    SHARDQ_RETURN_IF_ERROR(c.Read(&n_dims, "dimension count of tensor '" + t.name + "'"));
    if (n_dims == 0 || n_dims > kMaxDims)
      return Status::Corruption(where + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    uint64_t ne[kMaxDims];
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      SHARDQ_RETURN_IF_ERROR(c.Read(&ne[d], "shape of tensor '" + t.name + "'"));
      if (ne[d] > (1ull << 40) || (ne[d] && n > (1ull << 56) / ne[d]))
        return Status::Corruption(where + "dimension " + std::to_string(ne[d]) + " is too large");
      n *= ne[d];
    }
    for (int d = static_cast<int>(n_dims) - 1; d >= 0; --d) t.shape.push_back(static_cast<int64_t>(ne[d]));
    uint32_t type = 0;
    SHARDQ_RETURN_IF_ERROR(c.Read(&type, "type of tensor '" + t.name + "'"));
    if (!IsKnownGgmlType(type))
      return Status::Unsupported(where + "unknown ggml type id " + std::to_string(type));
    t.type = static_cast<GgmlType>(type);
    uint64_t rel = 0;
    SHARDQ_RETURN_IF_ERROR(c.Read(&rel, "offset of tensor '" + t.name + "'"));
    if (rel % g->alignment_ != 0)
      return Status::Corruption(where + "offset " + std::to_string(rel) + " is not a multiple of the alignment " +
                                std::to_string(g->alignment_));
    int64_t bs = 1;
    uint64_t bb = 0;
    GgmlTypeGeometry(t.type, &bs, &bb);
    if (ne[0] % static_cast<uint64_t>(bs) != 0)
      return Status::Corruption(where + "row length " + std::to_string(ne[0]) + " is not a multiple of " +
                                GgmlTypeName(t.type) + "'s block size " + std::to_string(bs));
    t.nbytes = n / static_cast<uint64_t>(bs) * bb;
    if (!names.insert(t.name).second)
      return Status::Corruption(path + ": duplicate tensor name '" + t.name + "'");
    t.source_name = t.name;
    t.file = path;
    rel_offsets.push_back(rel);
    g->tensors_.push_back(std::move(t));
  }

  const uint64_t a = g->alignment_;
  const uint64_t data_offset = (c.pos() + a - 1) / a * a;
  if (data_offset > g->file_->size() && !g->tensors_.empty())
    return Status::Corruption(path + ": data section at " + std::to_string(data_offset) +
                              " starts past the end of the file (" + std::to_string(g->file_->size()) +
                              " bytes)");
  g->data_offset_ = data_offset;
  const uint64_t data_size = g->file_->size() > data_offset ? g->file_->size() - data_offset : 0;
  for (size_t k = 0; k < g->tensors_.size(); ++k) {
    TensorInfo& t = g->tensors_[k];
    const uint64_t rel = rel_offsets[k];
    if (rel > data_size || t.nbytes > data_size - rel)
      return Status::Corruption(path + ": tensor '" + t.name + "': bytes [" + std::to_string(rel) + ", " +
                                std::to_string(rel + t.nbytes) + ") of the data section run past its end (" +
                                std::to_string(data_size) + " bytes)");
    t.offset = data_offset + rel;
  }
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : g->tensors_) by_offset.push_back(&t);
  std::stable_sort(by_offset.begin(), by_offset.end(),
                   [](const TensorInfo* x, const TensorInfo* y) { return x->offset < y->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const TensorInfo& p = *by_offset[k - 1];
    const TensorInfo& q = *by_offset[k];
    if (p.nbytes > 0 && q.nbytes > 0 && p.offset + p.nbytes > q.offset)
      return Status::Corruption(path + ": tensor '" + q.name + "' overlaps tensor '" + p.name + "'");
  }
  return g;
}

Result<ByteSpan> GgufFile::RawBytes(const TensorInfo& t) {
  if (t.file != file_->path())
    return Status::NotFound(t.file + ": tensor '" + t.name + "' is not in " + file_->path());
  if (!file_->Contains(t.offset, t.nbytes))
    return Status::Corruption(t.file + ": tensor '" + t.name + "': bytes past the end of the file");
  return ByteSpan{file_->data() + t.offset, t.nbytes};
}

void GgufFile::Release(const TensorInfo& t) { file_->Release(t.offset, t.nbytes); }

}  // namespace shardq
