// GPTQ's sweep (gptq.h), shared by the ggml block formats and INTn: they differ
// only in how a block is fitted and how its codes are stored afterwards.
#include "kernels/gptq.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <thread>
#include <type_traits>

#include "kernels/block_grid.h"
#include "kernels/gptq_hessian.h"

namespace shardq::gptq {
namespace {

using grid::GroupGrid;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

GptqError Fail(GptqError e, std::string* message, const std::string& why) {
  if (message) *message = std::string(GptqErrorName(e)) + ": " + why;
  return e;
}

template <class T>
bool AllFinite(const T* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return false;
  }
  return true;
}

// What a quantization target tells the sweep: how many columns share a fit,
// how many share a GroupGrid, and how to fit one block of one row.
struct Target {
  int block_size = 0;
  int group_size = 0;
  // x: block_size current values of row `row`, block `block` (original column order).
  std::function<void(int64_t row, int64_t block, const float* x, GroupGrid* groups, int8_t* fit_codes)> fit;
};

// Splits [0, rows) over `threads` workers running fn(first, last). Each row's
// work is the same whatever the split, so results do not depend on it.
void ForRows(int64_t rows, int threads, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t t = std::max<int64_t>(1, std::min<int64_t>(threads, rows));
  if (t == 1) {
    fn(0, rows);
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t k = 0; k < t; ++k) pool.emplace_back(fn, rows * k / t, rows * (k + 1) / t);
  for (auto& th : pool) th.join();
}

// C -= A B (row-major), in the working precision.
void GemmUpdate(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, -1.0, a, lda, b, ldb, 1.0, c, ldc);
}
void GemmUpdate(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, -1.f, a, lda, b, ldb, 1.f, c, ldc);
}

// The column sweep in working precision T (the Hessian work is always double).
// codes: rows x cols (original order). groups: rows x (cols / group_size).
template <class T>
void SweepIn(const float* w, int64_t rows, int64_t cols, const PreparedHessian& p, const Target& target,
             const GptqOptions& opt, std::vector<int16_t>* codes, std::vector<GroupGrid>* groups,
             GptqStats* stats) {
  auto t0 = std::chrono::steady_clock::now();
  const int64_t bs = target.block_size, gs = target.group_size;
  const int64_t n_groups_row = cols / gs;
  const int64_t batch = opt.block_columns;
  const int threads = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  const auto n = static_cast<size_t>(cols);

  // The working weights, permuted, dead columns zeroed.
  std::vector<T> wd(static_cast<size_t>(rows) * n);
  for (int64_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < n; ++j) {
      const int64_t c = p.perm[j];
      wd[r * n + j] = p.dead[c] ? T(0) : static_cast<T>(w[r * cols + c]);
    }
  }
  // Position where each block is entered: its columns' first position.
  std::vector<int64_t> enter(static_cast<size_t>(cols / bs), cols);
  for (int64_t c = 0; c < cols; ++c) enter[c / bs] = std::min(enter[c / bs], p.inv[c]);
  std::vector<int64_t> fit_at(n, -1);  // position -> block fitted there, or -1
  for (size_t b = 0; b < enter.size(); ++b) fit_at[enter[b]] = static_cast<int64_t>(b);

  codes->assign(static_cast<size_t>(rows) * n, 0);
  groups->assign(static_cast<size_t>(rows * n_groups_row), GroupGrid{});
  std::vector<int8_t> fit_codes(static_cast<size_t>(rows) * n, 0);
  std::vector<T> err(static_cast<size_t>(rows * batch));
  std::vector<double> row_err2(static_cast<size_t>(rows), 0.0);
  std::vector<T> u_t;
  if constexpr (!std::is_same_v<T, double>) u_t.assign(p.u.begin(), p.u.end());
  const T* u = nullptr;
  if constexpr (std::is_same_v<T, double>) u = p.u.data(); else u = u_t.data();

  for (int64_t i1 = 0; i1 < cols; i1 += batch) {
    const int64_t i2 = std::min(i1 + batch, cols), nb = i2 - i1;
    t0 = std::chrono::steady_clock::now();
    ForRows(rows, threads, [&](int64_t r0, int64_t r1) {
      std::vector<float> x(static_cast<size_t>(bs));
      for (int64_t r = r0; r < r1; ++r) {
        T* wr = wd.data() + r * n;
        T* er = err.data() + r * batch;
        for (int64_t j = i1; j < i2; ++j) {
          const int64_t c = p.perm[j];
          if (const int64_t b = fit_at[j]; b >= 0) {
            // Fit on the block's current values. Columns past this batch have
            // not had this batch's updates yet (they come with the gemm): add
            // the part from the columns done so far.
            for (int64_t t = 0; t < bs; ++t) {
              const int64_t pos = p.inv[b * bs + t];
              T v = wr[pos];
              if (pos >= i2) {
                for (int64_t k = i1; k < j; ++k) v -= er[k - i1] * u[k * n + pos];
              }
              x[t] = static_cast<float>(v);
            }
            target.fit(r, b, x.data(), groups->data() + r * n_groups_row + b * bs / gs,
                       fit_codes.data() + r * n + b * bs);
          }
          const grid::Rounded q = grid::RoundValue((*groups)[r * n_groups_row + c / gs], fit_codes[r * n + c],
                                                   static_cast<float>(wr[j]));
          (*codes)[r * n + c] = q.code;
          // ggml's weighted searches give a block whose importance is all zero a
          // NaN scale (0 / 0), and we write the bytes they write; its error is
          // unknown, so it is not fed forward (it would turn the row into NaNs).
          const T e = std::isfinite(q.value) ? (wr[j] - static_cast<T>(q.value)) / u[j * n + j] : T(0);
          row_err2[r] += static_cast<double>(e) * e;
          er[j - i1] = e;
          const T* uj = u + j * n;
          for (int64_t k = j + 1; k < i2; ++k) wr[k] -= e * uj[k];
        }
      }
    });
    stats->seconds_sweep += Seconds(t0);
    if (i2 < cols) {
      t0 = std::chrono::steady_clock::now();
      // W[:, i2:] -= Err (rows x nb) * U[i1:i2, i2:] (nb x (cols - i2)).
      GemmUpdate(static_cast<int>(rows), static_cast<int>(cols - i2), static_cast<int>(nb), err.data(),
                 static_cast<int>(batch), u + i1 * n + i2, static_cast<int>(n), wd.data() + i2, static_cast<int>(n));
      stats->seconds_update += Seconds(t0);
      stats->update_flops += 2.0 * static_cast<double>(rows) * static_cast<double>(cols - i2) * static_cast<double>(nb);
    }
  }
  for (double e2 : row_err2) stats->sum_err2 += e2;
}

GptqError Sweep(const float* w, int64_t rows, int64_t cols, const double* h, const Target& target,
                const GptqOptions& opt, std::vector<int16_t>* codes, std::vector<GroupGrid>* groups,
                GptqStats* stats, std::string* message) {
  const auto t0 = std::chrono::steady_clock::now();
  PreparedHessian p;
  if (GptqError e = PrepareHessian(h, cols, opt, &p, stats, message); e != GptqError::kOk) return e;
  stats->seconds_factor = Seconds(t0);
  if (opt.precision == SweepPrecision::kDouble) {
    SweepIn<double>(w, rows, cols, p, target, opt, codes, groups, stats);
  } else {
    SweepIn<float>(w, rows, cols, p, target, opt, codes, groups, stats);
  }
  return GptqError::kOk;
}

GptqError CheckCommon(const float* w, int64_t rows, int64_t cols, const double* h, int64_t block,
                      const GptqOptions& opt, std::string* message) {
  if (rows <= 0 || cols <= 0) {
    return Fail(GptqError::kBadShape, message, "rows and cols must be positive (got " + std::to_string(rows) +
                                                   " x " + std::to_string(cols) + ")");
  }
  if (cols % block != 0) {
    return Fail(GptqError::kBadShape, message, "cols " + std::to_string(cols) + " is not a multiple of the block size " +
                                                   std::to_string(block));
  }
  if (!(opt.damp_fraction >= 0) || opt.block_columns < 1 || opt.threads < 0) {
    return Fail(GptqError::kBadOptions, message, "damp_fraction must be >= 0, block_columns >= 1, threads >= 0");
  }
  if (!AllFinite(w, static_cast<size_t>(rows * cols))) {
    return Fail(GptqError::kNonFinite, message, "W holds a NaN or an infinity");
  }
  if (!AllFinite(h, static_cast<size_t>(cols * cols))) {
    return Fail(GptqError::kNonFinite, message, "H holds a NaN or an infinity");
  }
  return GptqError::kOk;
}

}  // namespace

const char* GptqErrorName(GptqError e) {
  switch (e) {
    case GptqError::kOk: return "ok";
    case GptqError::kUnsupportedType: return "unsupported type";
    case GptqError::kBadShape: return "bad shape";
    case GptqError::kBadOptions: return "bad options";
    case GptqError::kNonFinite: return "non-finite input";
    case GptqError::kNotPositiveDefinite: return "Hessian not positive definite";
  }
  return "?";
}

GptqError QuantizeGgml(const float* w, int64_t rows, int64_t cols, const double* h, GgmlType type,
                       const float* importance, const GptqOptions& options, uint8_t* out,
                       GptqStats* stats, std::string* message) {
  GptqStats local;
  if (!stats) stats = &local;
  *stats = GptqStats{};
  const grid::GridShape* shape = grid::FindGridShape(type);
  if (!shape) {
    return Fail(GptqError::kUnsupportedType, message,
                std::string("GPTQ has no grid for ") + GgmlTypeName(type) +
                    " (weight block formats only: not the float types, nor Q8_1/Q8_K)");
  }
  if (GptqError e = CheckCommon(w, rows, cols, h, shape->block_size, options, message); e != GptqError::kOk) return e;
  if (importance && !AllFinite(importance, static_cast<size_t>(cols))) {
    return Fail(GptqError::kNonFinite, message, "the importance vector holds a NaN or an infinity");
  }
  const int64_t blocks_row = cols / shape->block_size;
  const size_t row_bytes = static_cast<size_t>(blocks_row) * shape->block_bytes;
  // The legacy encoders weigh by the row's mean square; taken from the
  // original row, the values a plain quantize_row would have seen.
  std::vector<float> sigma2(static_cast<size_t>(rows), 0.f);
  if (importance) {
    for (int64_t r = 0; r < rows; ++r) sigma2[r] = grid::RowSigma2(type, w + r * cols, cols);
  }
  Target target;
  target.block_size = shape->block_size;
  target.group_size = shape->group_size;
  target.fit = [&](int64_t r, int64_t b, const float* x, GroupGrid* g, int8_t* fit_codes) {
    grid::FitBlock(*shape, x, importance ? importance + b * shape->block_size : nullptr, sigma2[r], g, fit_codes,
                   out + r * row_bytes + b * shape->block_bytes);
  };
  std::vector<int16_t> codes;
  std::vector<GroupGrid> groups;
  if (GptqError e = Sweep(w, rows, cols, h, target, options, &codes, &groups, stats, message); e != GptqError::kOk) {
    return e;
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < blocks_row; ++b) {
      grid::PackCodes(*shape, codes.data() + r * cols + b * shape->block_size,
                      out + r * row_bytes + b * shape->block_bytes);
    }
  }
  return GptqError::kOk;
}

GptqError QuantizeIntN(const float* w, int64_t rows, int64_t cols, const double* h, const IntNSpec& spec,
                       const GptqOptions& options, IntNOutput* out, GptqStats* stats, std::string* message) {
  GptqStats local;
  if (!stats) stats = &local;
  *stats = GptqStats{};
  if (spec.bits < 2 || spec.bits > 8 || spec.group_size < 1) {
    return Fail(GptqError::kBadOptions, message, "INTn needs bits in 2..8 and group_size >= 1 (got bits " +
                                                     std::to_string(spec.bits) + ", group_size " +
                                                     std::to_string(spec.group_size) + ")");
  }
  if (GptqError e = CheckCommon(w, rows, cols, h, spec.group_size, options, message); e != GptqError::kOk) return e;
  Target target;
  target.block_size = target.group_size = spec.group_size;
  target.fit = [&](int64_t, int64_t, const float* x, GroupGrid* g, int8_t*) {
    *g = grid::FitIntN(x, spec.group_size, spec.bits, spec.symmetric);
  };
  std::vector<int16_t> codes;
  std::vector<GroupGrid> groups;
  if (GptqError e = Sweep(w, rows, cols, h, target, options, &codes, &groups, stats, message); e != GptqError::kOk) {
    return e;
  }
  out->codes.assign(codes.begin(), codes.end());
  out->scales.resize(groups.size());
  out->zeros.resize(groups.size());
  for (size_t k = 0; k < groups.size(); ++k) {
    out->scales[k] = groups[k].scale;
    out->zeros[k] = groups[k].zero;
  }
  return GptqError::kOk;
}

double ProxyLoss(const float* w, const float* q, int64_t rows, int64_t cols, const double* h) {
  const auto n = static_cast<size_t>(rows * cols);
  std::vector<double> d(n), dh(n);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<double>(w[i]) - static_cast<double>(q[i]);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(cols),
              static_cast<int>(cols), 1.0, d.data(), static_cast<int>(cols), h, static_cast<int>(cols), 0.0,
              dh.data(), static_cast<int>(cols));
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += d[i] * dh[i];
  return sum;
}

}  // namespace shardq::gptq
