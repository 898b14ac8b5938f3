#include "worker/type_allocation.h"

#include <chrono>
#include <regex>

#include "common/model.h"
#include "kernels/block_format.h"
#include "worker/bit_allocator.h"
#include "worker/sensitivity.h"

namespace shardq {
namespace {

uint64_t AlignUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

uint64_t PackedBytes(const TensorInfo& t, GgmlType type) {
  const BlockFormat* f = FindBlockFormat(type);
  return f->row_bytes(t.row_length()) * static_cast<uint64_t>(t.n_rows());
}

// A regex matching exactly `name` (dots escaped), for ParseTensorTypeOverride.
std::string ExactPattern(const std::string& name) {
  std::string p = "^";
  for (char c : name) {
    if (c == '.') p += "\\";
    p += c;
  }
  return p + "$";
}

}  // namespace

const std::vector<GgmlType>& MixedPrecisionCandidates() {
  static const std::vector<GgmlType> kTypes = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                               GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0};
  return kTypes;
}

const std::vector<GgmlType>& MixedPrecisionFallbackCandidates() {
  static const std::vector<GgmlType> kTypes = {GgmlType::Q4_0, GgmlType::IQ4_NL, GgmlType::Q4_1,
                                               GgmlType::Q5_0, GgmlType::Q5_1,   GgmlType::Q8_0};
  return kTypes;
}

std::vector<GgmlType> MixedPrecisionCandidatesFor(int64_t row_length) {
  std::vector<GgmlType> fits;
  bool k_quant_fits = false;
  for (GgmlType t : MixedPrecisionCandidates()) {
    if (row_length % FindBlockFormat(t)->block_size != 0) continue;
    fits.push_back(t);
    k_quant_fits |= t != GgmlType::Q8_0;
  }
  if (k_quant_fits) return fits;
  fits.clear();
  for (GgmlType t : MixedPrecisionFallbackCandidates())
    if (row_length % FindBlockFormat(t)->block_size == 0) fits.push_back(t);
  return fits;
}

Result<TypeAllocationResult> AllocateTensorTypes(const TypeAllocationRequest& req) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<TensorInfo>& tensors = *req.tensors;
  const std::vector<TensorChoice>& base = *req.base;
  // Fixed: the header, 1-D tensors, user overrides, and tensors no candidate fits.
  uint64_t fixed = req.header_bytes;
  std::vector<size_t> free_index;
  std::vector<SensitivityRequest> asks;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorChoice& c = base[i];
    std::vector<GgmlType> fits;
    if (c.quantized && c.reason.rfind("--tensor-type", 0) != 0) fits = MixedPrecisionCandidatesFor(tensors[i].row_length());
    if (fits.empty()) {
      fixed += AlignUp(PackedBytes(tensors[i], c.type), req.alignment);
      continue;
    }
    free_index.push_back(i);
    asks.push_back({tensors[i].name, fits});
  }
  if (req.target_file_bytes <= fixed)
    return Status::InvalidArgument("target of " + std::to_string(req.target_file_bytes) + " bytes: the header and the " +
                                   "tensors kept as they are already take " + std::to_string(fixed));
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(req.model_path));
  SHARDQ_ASSIGN_OR_RETURN(std::vector<TensorSensitivity> sens,
                          MeasureSensitivity(std::move(model), req.windows, asks, req.threads));
  std::vector<AllocationItem> items(asks.size());
  for (size_t k = 0; k < asks.size(); ++k)
    for (size_t j = 0; j < sens[k].types.size(); ++j)
      items[k].options.push_back(
          {AlignUp(PackedBytes(tensors[free_index[k]], sens[k].types[j]), req.alignment), sens[k].kl[j]});
  Result<Allocation> a = AllocateBits(items, req.target_file_bytes - fixed);
  if (!a.ok()) return a.status().WithContext("target of " + std::to_string(req.target_file_bytes) + " bytes: ");
  TypeAllocationResult r;
  r.file_bytes = fixed + a->bytes;
  r.predicted_loss = a->loss;
  for (size_t k = 0; k < asks.size(); ++k) {
    const GgmlType type = sens[k].types[a->choice[k]];
    SHARDQ_ASSIGN_OR_RETURN(TensorTypeOverride o,
                            ParseTensorTypeOverride(ExactPattern(asks[k].name) + "=" + GgmlTypeName(type)));
    o.origin = "sensitivity";
    r.overrides.push_back(std::move(o));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace shardq
