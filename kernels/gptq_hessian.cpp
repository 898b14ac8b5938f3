// GPTQ's Hessian preparation (gptq_hessian.h).
#include "kernels/gptq_hessian.h"

#include <lapacke.h>

#include <algorithm>
#include <numeric>

namespace shardq::gptq {
namespace {

GptqError Fail(GptqError e, std::string* message, const std::string& why) {
  if (message) *message = std::string(GptqErrorName(e)) + ": " + why;
  return e;
}

}  // namespace

// Dead columns, act_order permutation, dampening, H^-1 and its upper Cholesky
// factor, in the order the paper gives them.
GptqError PrepareHessian(const double* h, int64_t cols, const GptqOptions& opt, PreparedHessian* p,
                         GptqStats* stats, std::string* message) {
  const auto n = static_cast<size_t>(cols);
  std::vector<double> diag(n);
  p->dead.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    diag[i] = h[i * n + i];
    if (diag[i] == 0) {
      diag[i] = 1;
      p->dead[i] = 1;
      ++stats->dead_columns;
    }
  }
  p->perm.resize(n);
  std::iota(p->perm.begin(), p->perm.end(), 0);
  if (opt.act_order) {
    // Stable, so equal diagonals keep their order and the result is reproducible.
    std::stable_sort(p->perm.begin(), p->perm.end(),
                     [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });
  }
  p->inv.resize(n);
  for (size_t j = 0; j < n; ++j) p->inv[p->perm[j]] = static_cast<int64_t>(j);

  // The permuted, dampened H (upper triangle is what LAPACK reads).
  std::vector<double>& a = p->u;
  a.assign(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i; j < n; ++j) {
      const size_t oi = p->perm[i], oj = p->perm[j];
      a[i * n + j] = oi <= oj ? h[oi * n + oj] : h[oj * n + oi];
    }
    a[i * n + i] = diag[p->perm[i]];
  }
  const double mean_diag = std::accumulate(diag.begin(), diag.end(), 0.0) / static_cast<double>(n);
  stats->damp = opt.damp_fraction * mean_diag;
  for (size_t i = 0; i < n; ++i) a[i * n + i] += stats->damp;

  const auto ln = static_cast<lapack_int>(n);
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', ln, a.data(), ln);
  if (info != 0) {
    return Fail(GptqError::kNotPositiveDefinite, message,
                "the dampened Hessian is not positive definite (Cholesky failed at column " +
                    std::to_string(info) + " of " + std::to_string(n) + "); raise damp_fraction");
  }
  info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', ln, a.data(), ln);
  if (info != 0) {
    return Fail(GptqError::kNotPositiveDefinite, message, "the Hessian's inverse failed (dpotri info " +
                                                              std::to_string(info) + ")");
  }
  info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', ln, a.data(), ln);
  if (info != 0) {
    return Fail(GptqError::kNotPositiveDefinite, message,
                "the Hessian's inverse is not numerically positive definite (Cholesky failed at column " +
                    std::to_string(info) + ")");
  }
  for (size_t i = 0; i < n; ++i) std::fill(a.begin() + i * n, a.begin() + i * n + i, 0.0);
  return GptqError::kOk;
}

}  // namespace shardq::gptq
