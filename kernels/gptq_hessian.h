// GPTQ's Hessian preparation (gptq.h): dead columns, the act_order
// permutation, dampening, H^-1 through LAPACK and its upper Cholesky factor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/gptq.h"

namespace shardq::gptq {

// The prepared problem, in the sweep's (possibly permuted) column order.
struct PreparedHessian {
  std::vector<int64_t> perm;     // position -> original column
  std::vector<int64_t> inv;      // original column -> position
  std::vector<double> u;         // cols x cols: upper Cholesky factor of the dampened H^-1
  std::vector<uint8_t> dead;     // per original column
};

// Dead columns, act_order permutation, dampening, H^-1 and its upper Cholesky
// factor, in the order the paper gives them.
GptqError PrepareHessian(const double* h, int64_t cols, const GptqOptions& opt, PreparedHessian* p,
                         GptqStats* stats, std::string* message);

}  // namespace shardq::gptq
