// GPTQ onto the ggml block formats (kernels/block_grid.h, kernels/gptq.h):
// (a) the grid oracle: fit + round + pack without error feedback gives the
//     format's own quantize_row bytes, with and without importance;
// (b) the lazy-batched, threaded sweep equals a naive double-precision
//     column-by-column GPTQ written here;
// (c) GPTQ's proxy loss beats plain rounding (quantize_row) on a correlated H;
// (d) H = identity gives quantize_row's bytes;
// (e) bad inputs give errors, not crashes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/block_format.h"
#include "kernels/block_grid.h"
#include "kernels/gptq.h"
#include "tests/unit/test_util.h"

extern "C" {
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
}

namespace shardq {
namespace {

using grid::GridShape;
using grid::GroupGrid;

const GgmlType kGridTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                               GgmlType::IQ4_NL, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                               GgmlType::Q6_K, GgmlType::TQ1_0, GgmlType::TQ2_0};

// Rows like weights and their edge cases: Gaussian or heavy-tailed values with
// per-row scales over 5 decades, outliers, all-zero and constant 32-blocks,
// tiny values (fp16 scales that underflow).
std::vector<float> RandomRows(int rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::student_t_distribution<float> td(3.f);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    const float sigma = std::pow(10.f, -4.f + 5.f * u(rng));
    float* xr = x.data() + static_cast<size_t>(r) * cols;
    for (int c = 0; c < cols; ++c) xr[c] = sigma * (r % 2 ? td(rng) : nd(rng));
    for (int b = 0; b < cols / 32; ++b) {
      float* xb = xr + 32 * b;
      const int pick = static_cast<int>(rng() % 24);
      if (pick == 0) std::fill(xb, xb + 32, 0.f);
      if (pick == 1) std::fill(xb, xb + 32, sigma * 0.3f);
      if (pick == 2) xb[rng() % 32] = sigma * (200.f + 2000.f * u(rng)) * (u(rng) < 0.5f ? -1.f : 1.f);
      if (pick == 3) for (int j = 0; j < 32; ++j) xb[j] *= 1e-6f;
      if (pick == 4) for (int j = 0; j < 32; ++j) xb[j] = std::fabs(xb[j]);  // one-signed block
    }
  }
  return x;
}

// Calibration-like importance: log-normal, some zeros, now and then a zero block.
std::vector<float> RandomImportance(int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> w(cols);
  for (int c = 0; c < cols; ++c) w[c] = u(rng) < 0.1f ? 0.f : std::exp(2.f * nd(rng));
  for (int b = 0; b < cols / 32; ++b) {
    if (rng() % 20 == 0) std::fill(w.begin() + 32 * b, w.begin() + 32 * b + 32, 0.f);
  }
  return w;
}

std::vector<uint8_t> QuantizeRows(const BlockFormat* f, const float* x, int rows, int cols, const float* imp) {
  std::vector<uint8_t> out(f->row_bytes(cols) * rows);
  for (int r = 0; r < rows; ++r) f->quantize_row(x + static_cast<size_t>(r) * cols, out.data() + f->row_bytes(cols) * r, cols, imp);
  return out;
}

std::vector<float> DecodeRows(GgmlType type, const std::vector<uint8_t>& bytes, int rows, int cols) {
  const BlockFormat* f = FindReferenceBlockFormat(type);
  std::vector<float> y(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) f->dequantize_row(bytes.data() + f->row_bytes(cols) * r, y.data() + static_cast<size_t>(r) * cols, cols);
  return y;
}

size_t DiffBlocks(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, size_t block_bytes) {
  if (a.size() != b.size()) return a.size() + b.size();
  size_t n = 0;
  for (size_t i = 0; i < a.size(); i += block_bytes) n += std::memcmp(&a[i], &b[i], block_bytes) != 0;
  return n;
}

// Fit, round every value unchanged, pack. Also returns the rounded values.
std::vector<uint8_t> GridRoundTrip(const GridShape& s, const float* x, int rows, int cols, const float* imp,
                                   std::vector<float>* values) {
  const size_t row_bytes = static_cast<size_t>(cols / s.block_size) * s.block_bytes;
  std::vector<uint8_t> out(row_bytes * rows);
  values->assign(static_cast<size_t>(rows) * cols, 0.f);
  std::vector<GroupGrid> g(s.groups());
  std::vector<int8_t> fit(s.block_size);
  std::vector<int16_t> codes(s.block_size);
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * cols;
    const float sigma2 = imp ? grid::RowSigma2(s.type, xr, cols) : 0.f;
    for (int b = 0; b < cols / s.block_size; ++b) {
      const float* xb = xr + b * s.block_size;
      uint8_t* bytes = out.data() + row_bytes * r + static_cast<size_t>(b) * s.block_bytes;
      grid::FitBlock(s, xb, imp ? imp + b * s.block_size : nullptr, sigma2, g.data(), fit.data(), bytes);
      for (int i = 0; i < s.block_size; ++i) {
        const grid::Rounded q = grid::RoundValue(g[i / s.group_size], fit[i], xb[i]);
        codes[i] = q.code;
        (*values)[static_cast<size_t>(r) * cols + b * s.block_size + i] = q.value;
      }
      grid::PackCodes(s, codes.data(), bytes);
    }
  }
  return out;
}

// A layer's inputs with correlated features (AR(1) along the input dimension,
// per-feature scales over 2 decades, a few dead features) and H = 2 X^T X.
std::vector<double> CorrelatedHessian(int cols, int samples, uint32_t seed, int dead = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<double> scale(cols);
  for (int i = 0; i < cols; ++i) scale[i] = std::pow(10.0, 2.0 * (nd(rng) * 0.4));
  std::vector<double> x(static_cast<size_t>(samples) * cols);
  const double rho = 0.8;
  for (int s = 0; s < samples; ++s) {
    double prev = nd(rng);
    for (int i = 0; i < cols; ++i) {
      prev = rho * prev + std::sqrt(1 - rho * rho) * nd(rng);
      x[static_cast<size_t>(s) * cols + i] = scale[i] * prev;
    }
  }
  for (int d = 0; d < dead; ++d) {
    const int i = (7 + 37 * d) % cols;
    for (int s = 0; s < samples; ++s) x[static_cast<size_t>(s) * cols + i] = 0;
  }
  std::vector<double> h(static_cast<size_t>(cols) * cols, 0.0);
  for (int s = 0; s < samples; ++s) {
    const double* xs = x.data() + static_cast<size_t>(s) * cols;
    for (int i = 0; i < cols; ++i)
      for (int j = 0; j < cols; ++j) h[static_cast<size_t>(i) * cols + j] += 2 * xs[i] * xs[j];
  }
  return h;
}

// ---- the naive reference: GPTQ column by column, every update applied at once ----

// Lower Cholesky factor, in place (H = L L^T); false if not positive definite.
bool NaiveCholesky(std::vector<double>& a, int n) {
  for (int j = 0; j < n; ++j) {
    double d = a[static_cast<size_t>(j) * n + j];
    for (int k = 0; k < j; ++k) d -= a[static_cast<size_t>(j) * n + k] * a[static_cast<size_t>(j) * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a[static_cast<size_t>(j) * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double v = a[static_cast<size_t>(i) * n + j];
      for (int k = 0; k < j; ++k) v -= a[static_cast<size_t>(i) * n + k] * a[static_cast<size_t>(j) * n + k];
      a[static_cast<size_t>(i) * n + j] = v / d;
    }
    for (int k = j + 1; k < n; ++k) a[static_cast<size_t>(j) * n + k] = 0;
  }
  return true;
}

// U (upper) with H^-1 = U^T U, H dampened and permuted as GPTQ does.
std::vector<double> NaiveHinvFactor(std::vector<double> h, int n) {
  REQUIRE(NaiveCholesky(h, n));
  // L^-1 by forward substitution, then H^-1 = L^-T L^-1.
  std::vector<double> li(static_cast<size_t>(n) * n, 0.0);
  for (int c = 0; c < n; ++c) {
    for (int i = c; i < n; ++i) {
      double v = i == c ? 1.0 : 0.0;
      for (int k = c; k < i; ++k) v -= h[static_cast<size_t>(i) * n + k] * li[static_cast<size_t>(k) * n + c];
      li[static_cast<size_t>(i) * n + c] = v / h[static_cast<size_t>(i) * n + i];
    }
  }
  std::vector<double> hinv(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double v = 0;
      for (int k = std::max(i, j); k < n; ++k) v += li[static_cast<size_t>(k) * n + i] * li[static_cast<size_t>(k) * n + j];
      hinv[static_cast<size_t>(i) * n + j] = v;
    }
  REQUIRE(NaiveCholesky(hinv, n));
  std::vector<double> u(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) u[static_cast<size_t>(i) * n + j] = hinv[static_cast<size_t>(j) * n + i];
  return u;
}

// fit(row, block, x, groups, fit_codes) as the implementation's; returns codes (original order).
template <class Fit>
std::vector<int16_t> NaiveGptq(const std::vector<float>& w, int rows, int cols, const std::vector<double>& h0,
                               int block, int group, bool act_order, Fit fit, std::vector<GroupGrid>* groups,
                               double* sum_err2 = nullptr) {
  std::vector<double> diag(cols);
  std::vector<bool> dead(cols, false);
  for (int i = 0; i < cols; ++i) {
    diag[i] = h0[static_cast<size_t>(i) * cols + i];
    if (diag[i] == 0) { diag[i] = 1; dead[i] = true; }
  }
  std::vector<int> perm(cols);
  std::iota(perm.begin(), perm.end(), 0);
  if (act_order) std::stable_sort(perm.begin(), perm.end(), [&](int a, int b) { return diag[a] > diag[b]; });
  std::vector<int> inv(cols);
  for (int j = 0; j < cols; ++j) inv[perm[j]] = j;
  std::vector<double> h(static_cast<size_t>(cols) * cols);
  double mean = 0;
  for (double d : diag) mean += d;
  mean /= cols;
  for (int i = 0; i < cols; ++i)
    for (int j = 0; j < cols; ++j) h[static_cast<size_t>(i) * cols + j] = h0[static_cast<size_t>(perm[i]) * cols + perm[j]];
  for (int i = 0; i < cols; ++i) h[static_cast<size_t>(i) * cols + i] = diag[perm[i]] + 0.01 * mean;
  const std::vector<double> u = NaiveHinvFactor(h, cols);

  std::vector<int16_t> codes(static_cast<size_t>(rows) * cols);
  groups->assign(static_cast<size_t>(rows) * (cols / group), GroupGrid{});
  std::vector<int8_t> fit_codes(static_cast<size_t>(rows) * cols);
  std::vector<bool> entered;
  std::vector<float> x(block);
  for (int r = 0; r < rows; ++r) {
    std::vector<double> wd(cols);
    for (int j = 0; j < cols; ++j) wd[j] = dead[perm[j]] ? 0.0 : w[static_cast<size_t>(r) * cols + perm[j]];
    entered.assign(cols / block, false);
    for (int j = 0; j < cols; ++j) {
      const int c = perm[j], b = c / block;
      if (!entered[b]) {
        entered[b] = true;
        for (int t = 0; t < block; ++t) x[t] = static_cast<float>(wd[inv[b * block + t]]);
        fit(r, b, x.data(), groups->data() + static_cast<size_t>(r) * (cols / group) + b * block / group,
            fit_codes.data() + static_cast<size_t>(r) * cols + b * block);
      }
      const grid::Rounded q = grid::RoundValue((*groups)[static_cast<size_t>(r) * (cols / group) + c / group],
                                               fit_codes[static_cast<size_t>(r) * cols + c], static_cast<float>(wd[j]));
      codes[static_cast<size_t>(r) * cols + c] = q.code;
      const double e = std::isfinite(q.value) ? (wd[j] - q.value) / u[static_cast<size_t>(j) * cols + j] : 0.0;
      if (sum_err2) *sum_err2 += e * e;
      for (int k = j + 1; k < cols; ++k) wd[k] -= e * u[static_cast<size_t>(j) * cols + k];
    }
  }
  return codes;
}

std::vector<uint8_t> NaiveGptqGgml(const std::vector<float>& w, int rows, int cols, const std::vector<double>& h,
                                   GgmlType type, const float* imp, bool act_order, double* sum_err2) {
  const GridShape& s = *grid::FindGridShape(type);
  const size_t row_bytes = static_cast<size_t>(cols / s.block_size) * s.block_bytes;
  std::vector<uint8_t> out(row_bytes * rows);
  std::vector<GroupGrid> groups;
  const auto codes = NaiveGptq(w, rows, cols, h, s.block_size, s.group_size, act_order,
                               [&](int r, int b, const float* x, GroupGrid* g, int8_t* fc) {
                                 const float sigma2 = imp ? grid::RowSigma2(type, w.data() + static_cast<size_t>(r) * cols, cols) : 0.f;
                                 grid::FitBlock(s, x, imp ? imp + b * s.block_size : nullptr, sigma2, g, fc,
                                                out.data() + row_bytes * r + static_cast<size_t>(b) * s.block_bytes);
                               },
                               &groups, sum_err2);
  for (int r = 0; r < rows; ++r)
    for (int b = 0; b < cols / s.block_size; ++b)
      grid::PackCodes(s, codes.data() + static_cast<size_t>(r) * cols + b * s.block_size,
                      out.data() + row_bytes * r + static_cast<size_t>(b) * s.block_bytes);
  return out;
}

std::vector<uint8_t> RunGptq(const std::vector<float>& w, int rows, int cols, const std::vector<double>& h, GgmlType type,
                             const float* imp, const gptq::GptqOptions& opt, gptq::GptqStats* stats = nullptr) {
  const BlockFormat* f = FindReferenceBlockFormat(type);
  std::vector<uint8_t> out(f->row_bytes(cols) * rows);
  std::string msg;
  const gptq::GptqError e = gptq::QuantizeGgml(w.data(), rows, cols, h.data(), type, imp, opt, out.data(), stats, &msg);
  INFO(msg);
  REQUIRE(e == gptq::GptqError::kOk);
  return out;
}

}  // namespace

// ---- (a) the grid oracle ------------------------------------------------------------

TEST_CASE("GPTQ grid: fit + round + pack without feedback gives quantize_row's bytes", "[gptq]") {
  const int rows = 128, cols = 2048;  // 8192 blocks of 32, 1024 of 256
  const auto x = RandomRows(rows, cols, 1234);
  const auto imp = RandomImportance(cols, 99);
  const auto real = testing::ReadFloats(testing::SharedPath("golden/blocks/input.f32"));
  const auto real_imp = testing::ReadFloats(testing::SharedPath("golden/blocks/importance.f32"));
  REQUIRE(real.size() == 16u * 4096u);
  REQUIRE(real_imp.size() == 4096u);
  for (GgmlType type : kGridTypes) {
    const GridShape& s = *grid::FindGridShape(type);
    const BlockFormat* ref = FindReferenceBlockFormat(type);
    const BlockFormat* fast = FindBlockFormat(type);
    for (int with_imp = 0; with_imp < 2; ++with_imp) {
      SECTION(std::string(ref->name) + (with_imp ? " with importance" : " without importance")) {
        const float* w = with_imp ? imp.data() : nullptr;
        std::vector<float> values;
        const auto got = GridRoundTrip(s, x.data(), rows, cols, w, &values);
        const auto want = QuantizeRows(ref, x.data(), rows, cols, w);
        CHECK(DiffBlocks(got, want, s.block_bytes) == 0);
        CHECK(DiffBlocks(got, QuantizeRows(fast, x.data(), rows, cols, w), s.block_bytes) == 0);
        // The values the grid hands GPTQ are what the decoder reads back.
        const auto decoded = DecodeRows(type, got, rows, cols);
        // (-0 == +0. A block whose importance is all zero gets a NaN scale from
        // ggml's weighted searches (0 / 0); the grid's values are NaN there too.)
        size_t value_mismatch = 0, nan_values = 0;
        for (size_t i = 0; i < values.size(); ++i) {
          const bool both_nan = std::isnan(values[i]) && std::isnan(decoded[i]);
          nan_values += both_nan;
          value_mismatch += !both_nan && values[i] != decoded[i];
        }
        CHECK(value_mismatch == 0);
        if (!with_imp) CHECK(nan_values == 0);
        // Real weights (the golden block inputs) and their importance.
        const float* rw = with_imp ? real_imp.data() : nullptr;
        const auto got_real = GridRoundTrip(s, real.data(), 16, 4096, rw, &values);
        CHECK(DiffBlocks(got_real, QuantizeRows(ref, real.data(), 16, 4096, rw), s.block_bytes) == 0);
      }
    }
  }
}

TEST_CASE("GPTQ grid: Q8_1, Q8_K and the float types have no grid", "[gptq]") {
  for (GgmlType t : {GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    CHECK(grid::FindGridShape(t) == nullptr);
  }
  CHECK(grid::FindGridShape(GgmlType::Q4_K)->groups() == 8);
}

TEST_CASE("GPTQ grid: INTn rounds half to even on its affine grid and clamps", "[gptq]") {
  const float x[4] = {-1.f, 0.f, 0.5f, 3.f};
  const GroupGrid g = grid::FitIntN(x, 4, 2, false);  // range [-1, 3] over 3 steps
  CHECK(g.scale == Approx(4.f / 3.f));
  CHECK(g.zero == 1);  // round(1 / (4/3)) = round(0.75)
  CHECK(grid::RoundValue(g, 0, -1.f).code == 0);
  CHECK(grid::RoundValue(g, 0, 3.f).code == 3);
  CHECK(grid::RoundValue(g, 0, 100.f).code == 3);
  CHECK(grid::RoundValue(g, 0, -100.f).code == 0);
  CHECK(grid::RoundValue(g, 0, 0.5f).value == g.scale * 0.f);  // 0.375 steps rounds to 0
  const GroupGrid s = grid::FitIntN(x, 4, 4, true);  // symmetric: [-3, 3] over 15 steps, zero 8
  CHECK(s.zero == 8);
  CHECK(s.scale == Approx(6.f / 15.f));
  const float zeros[4] = {0, 0, 0, 0};
  CHECK(grid::FitIntN(zeros, 4, 4, false).scale == Approx(2.f / 15.f));  // GPTQ's [-1, 1] for a zero group
}

// ---- (b) the sweep against the naive reference ---------------------------------------

TEST_CASE("GPTQ equals a naive column-by-column double-precision GPTQ", "[gptq]") {
  const int rows = 6, cols = 512;
  const auto h = CorrelatedHessian(cols, 2 * cols, 7, /*dead=*/2);
  const auto w = RandomRows(rows, cols, 77);
  const auto imp = RandomImportance(cols, 5);
  gptq::GptqOptions opt;
  opt.block_columns = 64;  // K-quant blocks span several lazy batches
  struct Case { GgmlType type; bool imp; };
  const Case cases[] = {{GgmlType::Q4_0, false}, {GgmlType::Q4_1, true}, {GgmlType::Q5_0, true},
                        {GgmlType::Q8_0, false}, {GgmlType::IQ4_NL, true}, {GgmlType::Q2_K, false},
                        {GgmlType::Q3_K, true}, {GgmlType::Q4_K, true}, {GgmlType::Q5_K, false},
                        {GgmlType::Q6_K, true}, {GgmlType::TQ1_0, false}, {GgmlType::TQ2_0, false}};
  for (const Case& c : cases) {
    for (int act = 0; act < 2; ++act) {
      SECTION(std::string(GgmlTypeName(c.type)) + (c.imp ? " importance" : "") + (act ? " act_order" : "")) {
        opt.act_order = act != 0;
        const float* ip = c.imp ? imp.data() : nullptr;
        double want_err2 = 0;
        const auto want = NaiveGptqGgml(w, rows, cols, h, c.type, ip, opt.act_order, &want_err2);
        opt.threads = 1;
        gptq::GptqStats stats;
        const auto got = RunGptq(w, rows, cols, h, c.type, ip, opt, &stats);
        CHECK(stats.dead_columns == 2);
        CHECK(stats.sum_err2 == Approx(want_err2).epsilon(1e-9));
        CHECK(stats.sum_err2 > 0);
        CHECK(DiffBlocks(got, want, grid::FindGridShape(c.type)->block_bytes) == 0);
        // Rows split over threads: the same bytes.
        opt.threads = 3;
        CHECK(RunGptq(w, rows, cols, h, c.type, ip, opt) == got);
        // Another lazy batch width: the same bytes.
        opt.block_columns = 128;
        CHECK(RunGptq(w, rows, cols, h, c.type, ip, opt) == got);
        opt.block_columns = 64;
      }
    }
  }
}

TEST_CASE("GPTQ bytes do not depend on OpenBLAS's thread count", "[gptq][asan-slow]") {
  const int rows = 64, cols = 1024;  // big enough for OpenBLAS to split the gemm
  const auto h = CorrelatedHessian(cols, cols, 81);
  const auto w = RandomRows(rows, cols, 82);
  const int before = openblas_get_num_threads();
  for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q5_0}) {
    for (auto precision : {gptq::SweepPrecision::kDouble, gptq::SweepPrecision::kFloat}) {
      gptq::GptqOptions opt;
      opt.precision = precision;
      openblas_set_num_threads(1);
      const auto one = RunGptq(w, rows, cols, h, type, nullptr, opt);
      openblas_set_num_threads(4);
      const auto four = RunGptq(w, rows, cols, h, type, nullptr, opt);
      openblas_set_num_threads(before);
      INFO(GgmlTypeName(type) << (precision == gptq::SweepPrecision::kFloat ? " float" : " double"));
      CHECK(DiffBlocks(one, four, grid::FindGridShape(type)->block_bytes) == 0);
    }
  }
}

TEST_CASE("GPTQ INTn equals the naive reference and decodes as scale * (code - zero)", "[gptq]") {
  const int rows = 5, cols = 256;
  const auto h = CorrelatedHessian(cols, 2 * cols, 11);
  const auto w = RandomRows(rows, cols, 12);
  for (const gptq::IntNSpec spec : {gptq::IntNSpec{4, 32, false}, gptq::IntNSpec{3, 64, true}, gptq::IntNSpec{8, 128, false},
                                    gptq::IntNSpec{2, 32, true}}) {
    for (int act = 0; act < 2; ++act) {
      gptq::GptqOptions opt;
      opt.block_columns = 48;
      opt.act_order = act != 0;
      gptq::IntNOutput out;
      std::string msg;
      REQUIRE(gptq::QuantizeIntN(w.data(), rows, cols, h.data(), spec, opt, &out, nullptr, &msg) == gptq::GptqError::kOk);
      std::vector<GroupGrid> groups;
      const auto codes = NaiveGptq(w, rows, cols, h, spec.group_size, spec.group_size, opt.act_order,
                                   [&](int, int, const float* x, GroupGrid* g, int8_t*) {
                                     *g = grid::FitIntN(x, spec.group_size, spec.bits, spec.symmetric);
                                   },
                                   &groups);
      INFO("bits " << spec.bits << " group " << spec.group_size << " act_order " << act);
      REQUIRE(out.codes.size() == codes.size());
      size_t diff = 0;
      for (size_t i = 0; i < codes.size(); ++i) diff += out.codes[i] != codes[i];
      CHECK(diff == 0);
      REQUIRE(out.scales.size() == groups.size());
      for (size_t k = 0; k < groups.size(); ++k) {
        CHECK(out.scales[k] == groups[k].scale);
        CHECK(out.zeros[k] == groups[k].zero);
      }
      for (uint8_t c : out.codes) CHECK(c < (1 << spec.bits));
      // GPTQ beats rounding each group of the original weights (RTN).
      std::vector<float> q(w.size()), rtn(w.size());
      for (int r = 0; r < rows; ++r)
        for (int g = 0; g < cols / spec.group_size; ++g) {
          const size_t k = static_cast<size_t>(r) * (cols / spec.group_size) + g;
          const GroupGrid rg = grid::FitIntN(&w[static_cast<size_t>(r) * cols + g * spec.group_size], spec.group_size,
                                             spec.bits, spec.symmetric);
          for (int t = 0; t < spec.group_size; ++t) {
            const size_t i = static_cast<size_t>(r) * cols + g * spec.group_size + t;
            q[i] = out.scales[k] * static_cast<float>(out.codes[i] - out.zeros[k]);
            rtn[i] = grid::RoundValue(rg, 0, w[i]).value;
          }
        }
      CHECK(gptq::ProxyLoss(w.data(), q.data(), rows, cols, h.data()) <
            gptq::ProxyLoss(w.data(), rtn.data(), rows, cols, h.data()));
    }
  }
}

TEST_CASE("GPTQ in float (sgemm) stays within rounding noise of the double sweep", "[gptq]") {
  // Float updates round differently from the double ones, so a value near a
  // rounding boundary can land on the other side and, for the searched formats,
  // a refit block can pick another candidate scale: exact equality is not
  // attainable. What is asserted: nearly every value decodes identically and
  // the proxy loss is the same to well under GPTQ's gain over RTN. The bounds
  // are looser than 99.5% / 1e-4: on this layer Q6_K's float sweep moves one
  // 16-value sub-block scale (21 of 4096 values, loss -0.16%); the others match
  // exactly. The default (double) path is held to exact equality above.
  const int rows = 8, cols = 512;
  const auto h = CorrelatedHessian(cols, 2 * cols, 71);
  std::mt19937 rng(72);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<float> w(static_cast<size_t>(rows) * cols);
  for (float& v : w) v = nd(rng);
  for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::IQ4_NL}) {
    gptq::GptqOptions opt;
    const auto qd = DecodeRows(type, RunGptq(w, rows, cols, h, type, nullptr, opt), rows, cols);
    opt.precision = gptq::SweepPrecision::kFloat;
    const auto qf = DecodeRows(type, RunGptq(w, rows, cols, h, type, nullptr, opt), rows, cols);
    size_t same = 0;
    for (size_t i = 0; i < qd.size(); ++i) same += qd[i] == qf[i];
    const double ld = gptq::ProxyLoss(w.data(), qd.data(), rows, cols, h.data());
    const double lf = gptq::ProxyLoss(w.data(), qf.data(), rows, cols, h.data());
    INFO(GgmlTypeName(type) << ": identical " << same << " of " << qd.size() << ", loss double " << ld << " float " << lf);
    CHECK(static_cast<double>(same) >= 0.99 * static_cast<double>(qd.size()));
    CHECK(std::fabs(lf - ld) <= 1e-2 * ld);
  }
}

// ---- (c) GPTQ beats round-to-nearest on a correlated H ---------------------------------

TEST_CASE("GPTQ lowers the proxy loss below quantize_row's for every format", "[gptq]") {
  const int rows = 16, cols = 512;
  const auto h = CorrelatedHessian(cols, 4 * cols, 21);
  // Plain Gaussian weights (RandomRows' edge cases are for the oracle).
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<float> w(static_cast<size_t>(rows) * cols);
  for (float& v : w) v = nd(rng);
  // Importance as calibration gives it: the inputs' mean square, diag(H) / (2 samples).
  std::vector<float> imp(cols);
  for (int i = 0; i < cols; ++i) imp[i] = static_cast<float>(h[static_cast<size_t>(i) * cols + i] / (2.0 * 4 * cols));
  for (GgmlType type : kGridTypes) {
    for (int variant = 0; variant < 3; ++variant) {
      const int act = variant == 1;
      const float* ip = variant == 2 ? imp.data() : nullptr;
      gptq::GptqOptions opt;
      opt.act_order = act != 0;
      const auto bytes = RunGptq(w, rows, cols, h, type, ip, opt);
      const auto rtn = QuantizeRows(FindReferenceBlockFormat(type), w.data(), rows, cols, ip);
      const double loss_gptq = gptq::ProxyLoss(w.data(), DecodeRows(type, bytes, rows, cols).data(), rows, cols, h.data());
      const double loss_rtn = gptq::ProxyLoss(w.data(), DecodeRows(type, rtn, rows, cols).data(), rows, cols, h.data());
      INFO(GgmlTypeName(type) << (act ? " act_order" : "") << (ip ? " importance" : "") << ": GPTQ " << loss_gptq
                              << " RTN " << loss_rtn);
      CHECK(loss_gptq > 0);
      CHECK(loss_gptq < 0.8 * loss_rtn);  // measured: 0.32 .. 0.71 of RTN
    }
  }
}

// ---- (d) no correlation: GPTQ is plain rounding -------------------------------------------

TEST_CASE("GPTQ with H = identity gives quantize_row's bytes", "[gptq]") {
  const int rows = 24, cols = 1024;
  const auto w = RandomRows(rows, cols, 31);
  const auto imp = RandomImportance(cols, 32);
  std::vector<double> h(static_cast<size_t>(cols) * cols, 0.0);
  for (int i = 0; i < cols; ++i) h[static_cast<size_t>(i) * cols + i] = 1.0;
  for (GgmlType type : kGridTypes) {
    for (int with_imp = 0; with_imp < 2; ++with_imp) {
      gptq::GptqOptions opt;
      opt.act_order = with_imp != 0;  // equal diagonals: the order stays (stable sort)
      const float* ip = with_imp ? imp.data() : nullptr;
      const auto got = RunGptq(w, rows, cols, h, type, ip, opt);
      const auto want = QuantizeRows(FindReferenceBlockFormat(type), w.data(), rows, cols, ip);
      INFO(GgmlTypeName(type) << (with_imp ? " with importance" : ""));
      CHECK(DiffBlocks(got, want, grid::FindGridShape(type)->block_bytes) == 0);
    }
  }
}

// ---- (e) bad input ------------------------------------------------------------------------

TEST_CASE("GPTQ rejects bad input with an error and a message", "[gptq]") {
  const int rows = 2, cols = 64;
  const auto w = RandomRows(rows, cols, 41);
  std::vector<double> eye(static_cast<size_t>(cols) * cols, 0.0);
  for (int i = 0; i < cols; ++i) eye[static_cast<size_t>(i) * cols + i] = 1.0;
  std::vector<uint8_t> out(4096);
  std::string msg;
  gptq::GptqOptions opt;
  auto run = [&](const std::vector<float>& ww, int c, const std::vector<double>& hh, GgmlType t) {
    msg.clear();
    return gptq::QuantizeGgml(ww.data(), rows, c, hh.data(), t, nullptr, opt, out.data(), nullptr, &msg);
  };

  SECTION("indefinite H, even after dampening") {
    // H = I - 2 v v^T with |v| = 1 has eigenvalue -1; 1% of the mean diagonal cannot lift it.
    std::vector<double> h = eye;
    const double v = 1.0 / std::sqrt(static_cast<double>(cols));
    for (size_t i = 0; i < h.size(); ++i) h[i] -= 2 * v * v;
    CHECK(run(w, cols, h, GgmlType::Q4_0) == gptq::GptqError::kNotPositiveDefinite);
    CHECK(msg.find("positive definite") != std::string::npos);
  }
  SECTION("cols not a multiple of the block size") {
    CHECK(run(w, cols, eye, GgmlType::Q4_K) == gptq::GptqError::kBadShape);  // 64 < 256
    CHECK(msg.find("multiple") != std::string::npos);
  }
  SECTION("types without a grid") {
    for (GgmlType t : {GgmlType::F16, GgmlType::F32, GgmlType::BF16, GgmlType::Q8_K, GgmlType::Q8_1}) {
      CHECK(run(w, cols, eye, t) == gptq::GptqError::kUnsupportedType);
      CHECK(msg.find(GgmlTypeName(t)) != std::string::npos);
    }
  }
  SECTION("non-finite weights or Hessian") {
    auto bad = w;
    bad[5] = std::nanf("");
    CHECK(run(bad, cols, eye, GgmlType::Q8_0) == gptq::GptqError::kNonFinite);
    auto hbad = eye;
    hbad[3] = INFINITY;
    CHECK(run(w, cols, hbad, GgmlType::Q8_0) == gptq::GptqError::kNonFinite);
  }
  SECTION("bad options") {
    opt.block_columns = 0;
    CHECK(run(w, cols, eye, GgmlType::Q8_0) == gptq::GptqError::kBadOptions);
    opt = gptq::GptqOptions{};
    gptq::IntNOutput io;
    CHECK(gptq::QuantizeIntN(w.data(), rows, cols, eye.data(), gptq::IntNSpec{9, 32, false}, opt, &io, nullptr, &msg) ==
          gptq::GptqError::kBadOptions);
    CHECK(gptq::QuantizeIntN(w.data(), rows, cols, eye.data(), gptq::IntNSpec{4, 48, false}, opt, &io, nullptr, &msg) ==
          gptq::GptqError::kBadShape);
  }
}

TEST_CASE("GPTQ: a block with all-zero importance (NaN scale, as ggml writes it) does not spread NaN", "[gptq][asan-slow]") {
  const int rows = 4, cols = 1024;
  const auto h = CorrelatedHessian(cols, 2 * cols, 61);
  const auto w = RandomRows(rows, cols, 62);
  std::vector<float> imp(cols, 1.f);
  std::fill(imp.begin() + 256, imp.begin() + 512, 0.f);  // super-block 1; blocks 8..15 of 32
  for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q2_K, GgmlType::IQ4_NL}) {
    const auto bytes = RunGptq(w, rows, cols, h, type, imp.data(), gptq::GptqOptions{});
    const auto q = DecodeRows(type, bytes, rows, cols);
    size_t nan_inside = 0, nan_outside = 0;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        const bool nan = std::isnan(q[static_cast<size_t>(r) * cols + c]);
        (c >= 256 && c < 512 ? nan_inside : nan_outside) += nan;
      }
    INFO(GgmlTypeName(type));
    CHECK(nan_inside == static_cast<size_t>(rows) * 256);  // what quantize_row writes there too
    CHECK(nan_outside == 0);
  }
}

TEST_CASE("GPTQ zeroes dead columns (diag(H) = 0)", "[gptq]") {
  const int rows = 3, cols = 64;
  const auto h = CorrelatedHessian(cols, 128, 51, /*dead=*/1);  // column 7 dead
  std::vector<float> w(static_cast<size_t>(rows) * cols, 0.5f);
  gptq::GptqStats stats;
  const auto bytes = RunGptq(w, rows, cols, h, GgmlType::Q8_0, nullptr, gptq::GptqOptions{}, &stats);
  CHECK(stats.dead_columns == 1);
  const auto q = DecodeRows(GgmlType::Q8_0, bytes, rows, cols);
  for (int r = 0; r < rows; ++r) CHECK(q[static_cast<size_t>(r) * cols + 7] == 0.f);
  CHECK(q[1] != 0.f);
}

}  // namespace shardq
