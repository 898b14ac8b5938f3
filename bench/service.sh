#!/usr/bin/env bash
# The job service's overheads, measured in one run on this machine:
#  - submit -> done through `shardq serve` against `shardq run` of the same job
#    (shakespeare-5m, Q4_K_M rtn, embedded worker), medians of alternating runs;
#  - status() calls per second from 20 concurrent clients (Python, generated from the IDL);
#  - status() latency percentiles while a job computes.
# Usage: bash bench/service.sh [build/shardq] [../shared]
set -euo pipefail
SHARDQ=$(readlink -f "${1:-build/shardq}")
SHARED=$(cd "${2:-../shared}" && pwd -P)
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
export SHARDQ_TOKEN=bench
thrift --gen py -out "$WORK" "$HERE/../idl/shardq.thrift"
MODEL="$SHARED/models/shakespeare-5m"

"$SHARDQ" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 --state "$WORK/state" --roots "$WORK,$SHARED" \
  > "$WORK/serve.log" 2> "$WORK/serve.err" &
SERVER=$!
for _ in $(seq 100); do grep -q "^shardq serve: thrift" "$WORK/serve.log" && break; sleep 0.1; done
PORT=$(sed -nE 's/^shardq serve: thrift [0-9.]+:([0-9]+),.*/\1/p' "$WORK/serve.log")

/usr/bin/python3 - "$WORK" "$PORT" "$SHARDQ" "$MODEL" <<'PY'
import os, statistics, subprocess, sys, threading, time
work, port, shardq, model = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, work)
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport
from shardq_rpc import ShardQ
from shardq_rpc.ttypes import JobSpec, JobState, OutputSpec, QuantizeRecipe, Recipe
TOKEN = os.environ["SHARDQ_TOKEN"]

def connect():
    s = TSocket.TSocket("127.0.0.1", port); s.setTimeout(120000)
    t = TTransport.TFramedTransport(s); t.open()
    return ShardQ.Client(TBinaryProtocol.TBinaryProtocol(t)), t

def spec(out):
    return JobSpec(model=model, output=OutputSpec(path=out), recipe=Recipe(quantize=QuantizeRecipe(preset="Q4_K_M")))

c, _ = connect()
run_s, svc_s = [], []
for i in range(5):
    yaml = os.path.join(work, "run%d.yaml" % i)
    open(yaml, "w").write("model: %s\noutput: { path: %s/run%d.gguf }\nrecipe: { quantize: { preset: Q4_K_M } }\n" % (model, work, i))
    t0 = time.perf_counter()
    subprocess.run([shardq, "run", yaml, "--state", os.path.join(work, "rs%d" % i), "-q"], check=True)
    run_s.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    job = c.submit(TOKEN, spec(os.path.join(work, "svc%d.gguf" % i)), "", 0)
    while c.wait(TOKEN, job, 10000).state not in (JobState.DONE, JobState.FAILED, JobState.CANCELLED):
        pass
    svc_s.append(time.perf_counter() - t0)
r, s = statistics.median(run_s), statistics.median(svc_s)
print("submit->done %.3f s vs shardq run %.3f s (medians of 5 alternating): overhead %+.3f s (%+.1f%%); "
      "target <= 5%% + 0.100 s = %.3f s" % (s, r, s - r, 100 * (s / r - 1), 1.05 * r + 0.1))

# status() calls/s with 20 clients for 3 s.
counts = [0] * 20
stop = time.perf_counter() + 3
def hammer(k):
    cl, _ = connect()
    while time.perf_counter() < stop:
        cl.status(TOKEN, job); counts[k] += 1
threads = [threading.Thread(target=hammer, args=(k,)) for k in range(20)]
for t in threads: t.start()
for t in threads: t.join()
print("status(): %.0f calls/s from 20 concurrent clients (Python clients, 3 s)" % (sum(counts) / 3.0))

# status() latency while a job computes (a gptq job calibrates for seconds).
slow = spec(os.path.join(work, "slow.gguf"))
slow.recipe.quantize.algorithm = "gptq"
from shardq_rpc.ttypes import CalibrationSpec
slow.calibration = CalibrationSpec(text=os.path.join(os.path.dirname(os.path.dirname(model)), "corpus", "shakespeare-calib.txt"),
                                   samples=16, seq_len=128)
job = c.submit(TOKEN, slow, "", 0)
lat = []
while True:
    t0 = time.perf_counter(); st = c.status(TOKEN, job); lat.append(time.perf_counter() - t0)
    if st.state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED): break
    time.sleep(0.005)
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
print("status() while a gptq job computes: %d calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms (job %s)"
      % (len(lat), p(0.5), p(0.99), lat[-1] * 1000, "done" if st.state == JobState.DONE else st.error))
PY
echo "machine: $(nproc) cores, $(grep -m1 -o 'avx512f' /proc/cpuinfo || echo 'AVX2') ISA flag, load $(cut -d' ' -f1-3 /proc/loadavg)"
