// Timeline lines for finding where a distributed job spends its time: with
// SHARDQ_TRACE=1 in the environment, each rank prints "shardq trace rank R
// T: what" to stderr, T being wall-clock seconds (the same clock on every rank
// of a node, so lines of several ranks can be merged by time). Without it,
// nothing is printed and a call costs one cached flag test.
#pragma once

namespace shardq {

bool TraceEnabled();
// printf-style; call only through SHARDQ_TRACE so the arguments are not
// evaluated when tracing is off.
void TraceLine(int rank, const char* format, ...) __attribute__((format(printf, 2, 3)));

#define SHARDQ_TRACE(rank, ...)                               \
  do {                                                        \
    if (::shardq::TraceEnabled()) ::shardq::TraceLine(rank, __VA_ARGS__); \
  } while (0)

}  // namespace shardq
