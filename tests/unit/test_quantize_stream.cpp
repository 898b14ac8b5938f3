// `shardq quantize`'s stream (coordinator/job/quantize_stream.h) against the
// tensor-at-a-time reference path (ReadF32 -> QuantizeTensor -> GgufWriter):
// the same file bytes and the same per-tensor metrics, bit for bit, for any
// thread count; and the SIMD error sums against their scalar reference.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <random>

#include "common/atomic_file.h"
#include "common/gguf_writer.h"
#include "common/model.h"
#include "common/quant_plan.h"
#include "common/tensor_order.h"
#include "common/thread_pool.h"
#include "coordinator/artifact/output_metadata.h"
#include "coordinator/job/quantize_stream.h"
#include "kernels/block_format.h"
#include "kernels/cpu_features.h"
#include "kernels/error_sums.h"
#include "tests/unit/failing_file_system.h"
#include "tests/unit/test_util.h"
#include "worker/tensor_quantizer.h"

using namespace shardq;
using shardq::testing::ReadFileBytes;
using shardq::testing::SharedPath;

namespace {

struct Planned {
  Model model;
  std::vector<TensorInfo> ordered;
  std::vector<TensorChoice> choices;
  GgufMetadata metadata;
  std::vector<GgufTensorDecl> decls;
};

Planned Plan(const std::string& model_path, const std::string& preset) {
  Planned p;
  Result<Model> model = OpenModel(model_path);
  REQUIRE(model.ok());
  p.model = std::move(*model);
  const std::vector<TensorInfo>& infos = p.model.source->tensors();
  for (size_t i : CanonicalTensorOrder(infos)) p.ordered.push_back(infos[i]);
  QuantPlanOptions plan;
  plan.preset = *FindPreset(preset);
  Result<std::vector<TensorChoice>> choices = PlanTensorTypes(p.ordered, plan);
  REQUIRE(choices.ok());
  p.choices = *choices;
  Result<GgufMetadata> md = BuildOutputMetadata(p.model, plan.preset.file_type);
  REQUIRE(md.ok());
  p.metadata = *md;
  for (size_t i = 0; i < p.ordered.size(); ++i)
    p.decls.push_back({p.ordered[i].name, p.ordered[i].shape, p.choices[i].type});
  return p;
}

// The path `shardq quantize` took before the stream (and `shardq run`'s units still take).
std::vector<QuantError> WriteReference(Planned& p, const std::string& out) {
  Result<std::unique_ptr<GgufWriter>> writer = GgufWriter::Create(out, p.metadata, p.decls);
  REQUIRE(writer.ok());
  ThreadPool pool(2);
  std::vector<QuantError> errors;
  std::vector<float> data;
  for (size_t i = 0; i < p.ordered.size(); ++i) {
    REQUIRE(p.model.source->ReadF32(p.ordered[i], &data).ok());
    QuantizedTensor q;
    REQUIRE(QuantizeTensor(data.data(), p.ordered[i].n_rows(), p.ordered[i].row_length(), p.choices[i].type, nullptr,
                           &pool, &q).ok());
    REQUIRE((*writer)->WriteTensor(i, q.bytes.data(), q.bytes.size()).ok());
    errors.push_back(q.error);
  }
  REQUIRE((*writer)->Finish().ok());
  return errors;
}

Result<StreamResult> Stream(Planned& p, const std::string& out, int threads, FileSystem* fs = FileSystem::Default()) {
  Result<GgufLayout> layout = LayoutGguf(out, p.metadata, p.decls);
  REQUIRE(layout.ok());
  Result<std::unique_ptr<AtomicFile>> file = AtomicFile::Create(out, fs);
  REQUIRE(file.ok());
  std::vector<StreamTensor> tensors;
  for (size_t i = 0; i < p.ordered.size(); ++i)
    tensors.push_back({&p.ordered[i], FindBlockFormat(p.choices[i].type), nullptr});
  StreamOptions options;
  options.threads = threads;
  return StreamQuantize(*p.model.source, tensors, *layout, **file, options);
}

std::vector<QuantError> WriteStreamed(Planned& p, const std::string& out, int threads) {
  Result<StreamResult> r = Stream(p, out, threads);
  REQUIRE(r.ok());
  return r->errors;
}

}  // namespace

TEST_CASE("quantize stream writes the reference path's bytes and metrics for any thread count", "[quantize][stream]") {
  const std::string dir = shardq::testing::MakeTempDir("quantize_stream");
  // shakespeare-5m is safetensors (q/k rows permuted on the way); stories260K.gguf is a GGUF source.
  for (const std::string model : {"models/shakespeare-5m", "models/stories260K/stories260K.gguf"}) {
    for (const std::string preset : {"Q8_0", "Q4_K_M", "Q4_0"}) {
      Planned p = Plan(SharedPath(model), preset);
      const std::vector<QuantError> ref = WriteReference(p, dir + "/ref.gguf");
      const std::vector<uint8_t> want = ReadFileBytes(dir + "/ref.gguf");
      for (int threads : {1, 2, 3}) {
        INFO(model << " " << preset << " threads " << threads);
        const std::vector<QuantError> got = WriteStreamed(p, dir + "/stream.gguf", threads);
        REQUIRE(ReadFileBytes(dir + "/stream.gguf") == want);
        REQUIRE(got.size() == ref.size());
        for (size_t i = 0; i < ref.size(); ++i) {
          INFO(p.ordered[i].name);
          // Exact: the same per-row sums merged in the same order.
          REQUIRE(got[i].sum_sq_err == ref[i].sum_sq_err);
          REQUIRE(got[i].sum_sq_ref == ref[i].sum_sq_ref);
          REQUIRE(got[i].max_abs_err == ref[i].max_abs_err);
          REQUIRE(got[i].count == ref[i].count);
        }
      }
    }
  }
  // A quantized source: rows decoded one at a time (TensorRows) instead of in place.
  {
    Planned q8 = Plan(SharedPath("models/shakespeare-5m"), "Q8_0");
    WriteReference(q8, dir + "/source_q8.gguf");
  }
  Planned p = Plan(dir + "/source_q8.gguf", "Q4_K_M");
  const std::vector<QuantError> ref = WriteReference(p, dir + "/ref.gguf");
  const std::vector<QuantError> got = WriteStreamed(p, dir + "/stream.gguf", 2);
  REQUIRE(ReadFileBytes(dir + "/stream.gguf") == ReadFileBytes(dir + "/ref.gguf"));
  for (size_t i = 0; i < ref.size(); ++i) REQUIRE(got[i].sum_sq_err == ref[i].sum_sq_err);
  std::filesystem::remove_all(dir);
}

TEST_CASE("quantize stream: a failed write stops the stream and leaves no file", "[quantize][stream]") {
  const std::string dir = shardq::testing::MakeTempDir("quantize_stream_fail");
  Planned p = Plan(SharedPath("models/shakespeare-5m"), "Q8_0");  // 5.6 MB out: one 4 MiB stage, then a tail
  shardq::testing::FailingFileSystem fs(5 << 20);
  Result<StreamResult> r = Stream(p, dir + "/out.gguf", 2, &fs);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.status().ToString().find("injected: disk full") != std::string::npos);
  REQUIRE(std::filesystem::is_empty(dir));  // neither the output nor its temp file
  std::filesystem::remove_all(dir);
}

TEST_CASE("error sums: the SIMD path gives the scalar reference's bits, whole or in pieces", "[quantize][stream]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int64_t n = 1000;  // not a multiple of 8: the scalar head and tail are exercised
  std::vector<float> x(n), y(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = g(rng);
    y[i] = x[i] + 0.01f * g(rng);
  }
  ErrorLanes ref;
  AccumulateErrorReference(x.data(), y.data(), n, &ref);
  ErrorLanes whole, pieces;
  AccumulateError(x.data(), y.data(), n, &whole);
  for (int64_t p = 0; p < n; p += 37) AccumulateError(x.data() + p, y.data() + p, std::min<int64_t>(37, n - p), &pieces);
  for (const ErrorLanes* e : {&whole, &pieces}) {
    REQUIRE(e->SumSqErr() == ref.SumSqErr());
    REQUIRE(e->SumSqRef() == ref.SumSqRef());
    REQUIRE(e->max_abs_err == ref.max_abs_err);
    REQUIRE(e->count == n);
  }
  // A sanity value: the sums are what they claim.
  double se = 0;
  for (int64_t i = 0; i < n; ++i) se += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
  REQUIRE(ref.SumSqErr() == Approx(se).epsilon(1e-12));
  REQUIRE(AllFinite(x.data(), n));
  x[n - 3] = std::nanf("");
  REQUIRE_FALSE(AllFinite(x.data(), n));
  x[n - 3] = 1.0f;
  x[5] = INFINITY;
  REQUIRE_FALSE(AllFinite(x.data(), n));
  if (!GetCpuFeatures().avx2) SHARDQ_SKIP("CPU without AVX2 (or SHARDQ_FORCE_SCALAR set): only the reference ran");
}
