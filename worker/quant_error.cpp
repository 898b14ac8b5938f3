#include "worker/quant_error.h"

#include <cmath>
#include <limits>

#include "kernels/error_sums.h"

namespace shardq {

void QuantError::Add(const float* x, const float* x_hat, int64_t n) {
  ErrorLanes lanes;
  AccumulateError(x, x_hat, n, &lanes);
  AddLanes(lanes);
}

void QuantError::AddLanes(const ErrorLanes& lanes) {
  sum_sq_err += lanes.SumSqErr();
  sum_sq_ref += lanes.SumSqRef();
  max_abs_err = std::max(max_abs_err, lanes.max_abs_err);
  count += lanes.count;
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
