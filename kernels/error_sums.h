// Sums for the error of a decoded row against its float original (sum of
// squared errors, sum of squares, max |error|), and the finiteness check that
// guards the encoders. SIMD paths with a scalar reference beside them.
//
// The sums are kept in 8 double lanes (element i goes to lane i % 8, counted
// from the first element ever added) and folded in one fixed order, so the
// AVX2 path and the scalar reference give the same bits, and a row measured in
// pieces (each a multiple of 8 values, as every block size is) gives the same
// bits as the row measured at once.
#pragma once

#include <cstdint>

namespace shardq {

struct ErrorLanes {
  double sq_err[8] = {};
  double sq_ref[8] = {};
  double max_abs_err = 0;
  int64_t count = 0;  // values added so far; picks the lane of the next one

  double SumSqErr() const;  // the lanes folded in a fixed order
  double SumSqRef() const;
};

// Adds n pairs (x[i], x_hat[i]) to the lanes; the fastest path this CPU runs.
void AccumulateError(const float* x, const float* x_hat, int64_t n, ErrorLanes* lanes);
// The scalar reference (tests compare the two).
void AccumulateErrorReference(const float* x, const float* x_hat, int64_t n, ErrorLanes* lanes);

// True when all n values are finite; the fastest path this CPU runs.
bool AllFinite(const float* x, int64_t n);

namespace avx2 {
void AccumulateError(const float* x, const float* x_hat, int64_t n, ErrorLanes* lanes);
bool AllFinite(const float* x, int64_t n);
}  // namespace avx2

}  // namespace shardq
