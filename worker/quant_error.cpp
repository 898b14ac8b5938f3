#include "worker/quant_error.h"

#include <cmath>
#include <limits>

namespace shardq {

void QuantError::Add(const float* x, const float* x_hat, int64_t n) {
  double se = 0, sr = 0, mx = max_abs_err;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - x_hat[i];
    se += d * d;
    sr += static_cast<double>(x[i]) * x[i];
    mx = std::max(mx, std::fabs(d));
  }
  sum_sq_err += se;
  sum_sq_ref += sr;
  max_abs_err = mx;
  count += n;
}

void QuantError::Merge(const QuantError& o) {
  sum_sq_err += o.sum_sq_err;
  sum_sq_ref += o.sum_sq_ref;
  max_abs_err = std::max(max_abs_err, o.max_abs_err);
  count += o.count;
}

double QuantError::rmse() const { return count ? std::sqrt(sum_sq_err / count) : 0.0; }

double QuantError::relative_rmse() const {
  return sum_sq_ref > 0 ? std::sqrt(sum_sq_err / sum_sq_ref) : 0.0;
}

double QuantError::sqnr_db() const {
  if (sum_sq_err == 0) return std::numeric_limits<double>::infinity();
  if (sum_sq_ref == 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(sum_sq_ref / sum_sq_err);
}

}  // namespace shardq
