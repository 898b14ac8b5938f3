#include "worker/awq_search.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

namespace shardq {

LinearInputs::LinearInputs(const float* x, int64_t n, int64_t cols) : x_(x), n_(n), cols_(cols) {
  mean_abs_.assign(cols, 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < cols; ++j) mean_abs_[j] += std::fabs(x[t * cols + j]);
  for (double& m : mean_abs_) m /= static_cast<double>(std::max<int64_t>(n, 1));
  if (n >= cols) {
    // Each error is then rows x cols x cols instead of n x cols x rows.
    gram_.resize(static_cast<size_t>(cols * cols));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(cols), static_cast<int>(cols),
                static_cast<int>(n), 1.0f, x, static_cast<int>(cols), x, static_cast<int>(cols), 0.0f, gram_.data(),
                static_cast<int>(cols));
  }
}

double LinearInputs::OutputError(const float* d, int64_t rows) const {
  double sum = 0;
  if (!gram_.empty()) {
    std::vector<float> dg(static_cast<size_t>(rows * cols_));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(cols_),
                static_cast<int>(cols_), 1.0f, d, static_cast<int>(cols_), gram_.data(), static_cast<int>(cols_), 0.0f,
                dg.data(), static_cast<int>(cols_));
    for (size_t i = 0; i < dg.size(); ++i) sum += static_cast<double>(d[i]) * dg[i];
    return sum;
  }
  std::vector<float> y(static_cast<size_t>(n_ * rows));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_), static_cast<int>(rows),
              static_cast<int>(cols_), 1.0f, x_, static_cast<int>(cols_), d, static_cast<int>(cols_), 0.0f, y.data(),
              static_cast<int>(rows));
  for (float v : y) sum += static_cast<double>(v) * v;
  return sum;
}

std::vector<float> LinearInputs::DiagonalGramBlocks(int64_t bs) const {
  const int64_t nb = cols_ / bs;
  std::vector<float> out(static_cast<size_t>(nb * bs * bs));
  for (int64_t k = 0; k < nb; ++k)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(bs), static_cast<int>(bs),
                static_cast<int>(n_), 1.0f, x_ + k * bs, static_cast<int>(cols_), x_ + k * bs,
                static_cast<int>(cols_), 0.0f, out.data() + k * bs * bs, static_cast<int>(bs));
  return out;
}

void QuantizeRoundTrip(const BlockFormat& format, const float* w, int64_t rows, int64_t cols, float* out,
                       ThreadPool* pool) {
  pool->ParallelFor(rows, 8, [&](int64_t b, int64_t e) {
    std::vector<uint8_t> enc(format.row_bytes(cols));
    for (int64_t r = b; r < e; ++r) {
      format.quantize_row(w + r * cols, enc.data(), cols, nullptr);
      format.dequantize_row(enc.data(), out + r * cols, cols);
    }
  });
}

double ScaledQuantError(std::span<const LinearToQuantize> linears, const LinearInputs& inputs, const float* s,
                        ThreadPool* pool) {
  const int64_t cols = inputs.cols();
  double total = 0;
  for (const LinearToQuantize& l : linears) {
    if (!l.format || !l.format->quantized) continue;  // stored exactly: scaling it changes nothing
    const size_t n = static_cast<size_t>(l.rows * cols);
    std::vector<float> scaled(l.w, l.w + n), q(n);
    if (s)
      for (size_t i = 0; i < n; ++i) scaled[i] *= s[i % cols];
    QuantizeRoundTrip(*l.format, scaled.data(), l.rows, cols, q.data(), pool);
    // The linear now computes (X / s) Q^T = X (Q diag(1/s))^T: its weight change is
    // D = W - Q diag(1/s).
    for (size_t i = 0; i < n; ++i) q[i] = l.w[i] - (s ? q[i] / s[i % cols] : q[i]);
    total += inputs.OutputError(q.data(), l.rows);
  }
  return total;
}

std::vector<float> AwqScales(std::span<const double> mean_abs, double alpha) {
  double min_pos = 0;
  for (double m : mean_abs)
    if (m > 0 && (min_pos == 0 || m < min_pos)) min_pos = m;
  std::vector<double> s(mean_abs.size());
  double lo = INFINITY, hi = 0;
  for (size_t j = 0; j < s.size(); ++j) {
    const double m = mean_abs[j] > 0 ? mean_abs[j] : (min_pos > 0 ? min_pos : 1.0);
    s[j] = alpha == 0 ? 1.0 : std::pow(m, alpha);
    lo = std::min(lo, s[j]);
    hi = std::max(hi, s[j]);
  }
  const double norm = s.empty() ? 1.0 : std::sqrt(hi * lo);
  std::vector<float> out(s.size());
  for (size_t j = 0; j < s.size(); ++j) out[j] = static_cast<float>(s[j] / norm);
  return out;
}

ClipResult ClipSearch(const BlockFormat& format, float* w, int64_t rows, int64_t cols, std::span<const float> h_blocks,
                      int grid, double min_ratio, ThreadPool* pool) {
  const int64_t bs = format.block_size, nb = cols / bs;
  struct RowResult {
    double before = 0, after = 0, ratio_sum = 0;
  };
  std::vector<RowResult> per_row(rows);
  // d_b H_bb d_b^T with d = w - q: one sgemv and one dot (this is most of the search's time).
  auto block_error = [&](const float* wb, const float* qb, const float* h, float* d, float* hd) {
    for (int64_t i = 0; i < bs; ++i) d[i] = wb[i] - qb[i];
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(bs), static_cast<int>(bs), 1.0f, h,
                static_cast<int>(bs), d, 1, 0.0f, hd, 1);
    double e = 0;
    for (int64_t i = 0; i < bs; ++i) e += static_cast<double>(d[i]) * hd[i];
    return e;
  };
  pool->ParallelFor(rows, 4, [&](int64_t b, int64_t e) {
    std::vector<float> clamped(bs), q(bs), best(bs), d(bs), hd(bs);
    std::vector<uint8_t> enc(format.block_bytes);
    for (int64_t r = b; r < e; ++r) {
      RowResult& res = per_row[r];
      for (int64_t k = 0; k < nb; ++k) {
        float* wb = w + r * cols + k * bs;
        const float* h = h_blocks.data() + k * bs * bs;
        float amax = 0;
        for (int64_t i = 0; i < bs; ++i) amax = std::max(amax, std::fabs(wb[i]));
        double best_err = INFINITY, best_ratio = 1;
        for (int i = 0; i <= grid; ++i) {
          const double ratio = 1.0 - static_cast<double>(i) / grid;
          if (ratio < min_ratio - 1e-12 || (i > 0 && amax == 0)) break;
          const float lim = static_cast<float>(amax * ratio);
          for (int64_t j = 0; j < bs; ++j) clamped[j] = std::clamp(wb[j], -lim, lim);
          format.quantize_row(clamped.data(), enc.data(), bs, nullptr);
          format.dequantize_row(enc.data(), q.data(), bs);
          const double err = block_error(wb, q.data(), h, d.data(), hd.data());
          if (i == 0) res.before += err;
          if (err < best_err) {  // strict: a tie keeps the milder clip
            best_err = err;
            best_ratio = ratio;
            best = clamped;
          }
        }
        res.after += best_err;
        res.ratio_sum += best_ratio;
        std::copy(best.begin(), best.end(), wb);
      }
    }
  });
  ClipResult out;
  double ratio_sum = 0;
  for (const RowResult& r : per_row) {
    out.error_before += r.before;
    out.error_after += r.after;
    ratio_sum += r.ratio_sum;
  }
  out.mean_ratio = rows * nb > 0 ? ratio_sum / static_cast<double>(rows * nb) : 1.0;
  return out;
}

}  // namespace shardq
