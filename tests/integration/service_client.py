"""A client of `shardq serve` in another language, from idl/shardq.thrift alone.

tests/integration/service.sh generates the Python bindings with Thrift's own
compiler (`thrift --gen py`) and runs the checks below against a live server:
the acceptance of the service issue "answers a client generated from the IDL
by Thrift's compiler for another language". Nothing here imports shardq code.

Usage: service_client.py GEN_DIR HOST PORT CHECK [ARGS...]; prints one line per
result and exits non-zero on the first failed expectation.
"""
import os
import socket
import struct
import sys
import threading
import time

gen_dir, host, port, check = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
args = sys.argv[5:]
sys.path.insert(0, gen_dir)

from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402
from shardq_rpc import ShardQ  # noqa: E402
from shardq_rpc.ttypes import (  # noqa: E402
    InvalidSpec, JobSpec, JobState, ListFilter, OutputSpec, Page, QuantizeRecipe, Recipe, Unauthorized)

TOKEN = os.environ.get("SHARDQ_TOKEN", "")


def connect():
    sock = TSocket.TSocket(host, port)
    sock.setTimeout(120000)
    transport = TTransport.TFramedTransport(sock)
    client = ShardQ.Client(TBinaryProtocol.TBinaryProtocol(transport))
    transport.open()
    return client, transport


def spec(model, output, preset="Q4_K_M"):
    return JobSpec(model=model, output=OutputSpec(path=output),
                   recipe=Recipe(quantize=QuantizeRecipe(preset=preset, algorithm="rtn")))


def expect(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    print("ok: " + what)


def wait_done(client, job_id, limit_s=300):
    deadline = time.time() + limit_s
    while time.time() < deadline:
        st = client.wait(TOKEN, job_id, 5000)
        if st.state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED):
            return st
    raise RuntimeError("job %s did not finish in %d s" % (job_id, limit_s))


if check == "info":  # no token needed
    client, t = connect()
    info = client.serverInfo()
    print("version=%s ranks=%d workers=%d" % (info.version, info.ranks, info.workers))
    expect(info.ranks == int(args[0]), "serverInfo without a token: %d ranks" % info.ranks)

elif check == "bad-token":
    client, t = connect()
    try:
        client.status("not-the-token", "job-x")
        expect(False, "a wrong token is refused")
    except Unauthorized as e:
        expect(True, "a wrong token is refused (Unauthorized: %s)" % e.reason)
    # The connection stays usable, and serverInfo still answers.
    expect(client.serverInfo().ranks > 0, "the same connection answers after Unauthorized")

elif check == "invalid":  # model output field
    client, t = connect()
    try:
        client.submit(TOKEN, spec(args[0], args[1]), "", 0)
        expect(False, "spec %s -> %s refused" % (args[0], args[1]))
    except InvalidSpec as e:
        print("InvalidSpec field=%s reason=%s" % (e.field, e.reason))
        expect(e.field == args[2], "refused with InvalidSpec naming field %s" % args[2])

elif check == "estimate":  # model params actual_file_bytes
    client, t = connect()
    e = client.estimate(TOKEN, spec(args[0], args[3]))
    params, actual = int(args[1]), int(args[2])
    print("estimate: units=%d bytes_in=%d predicted_out=%d seconds=%.2f" % (e.units, e.bytes_in, e.predicted_bytes_out,
                                                                            e.predicted_seconds))
    expect(e.units == 8, "estimate: 8 units (embeddings, 6 blocks, head)")
    expect(e.bytes_in == 4 * params, "estimate: bytes in = 4 x %d F32 parameters" % params)
    expect(abs(e.predicted_bytes_out - actual) < 0.02 * actual,
           "estimate: predicted %d bytes within 2%% of the artifact's %d" % (e.predicted_bytes_out, actual))
    expect(e.predicted_seconds > 0, "estimate: a positive time")

elif check == "idempotent":  # model output
    client, t = connect()
    a = client.submit(TOKEN, spec(args[0], args[1]), "key-" + args[1], 0)
    b = client.submit(TOKEN, spec(args[0], args[1]), "key-" + args[1], 0)
    expect(a == b, "the same idempotency key returns the same job id (%s)" % a)
    st = wait_done(client, a)
    expect(st.state == JobState.DONE, "job %s done" % a)
    print("SHA %s %s" % (args[1], st.sha256))

elif check == "concurrent":  # model out_prefix n
    model, prefix, n = args[0], args[1], int(args[2])
    results, errors = {}, []

    def one(i):
        try:
            client, t = connect()
            out = "%s%d.gguf" % (prefix, i)
            job = client.submit(TOKEN, spec(model, out), "", 0)
            st = wait_done(client, job)
            results[i] = (job, st.state, st.sha256, out)
            t.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("client %d: %r" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    expect(not errors, "%d concurrent clients without errors %s" % (n, errors[:3]))
    expect(all(r[1] == JobState.DONE for r in results.values()), "all %d jobs done" % n)
    for i in sorted(results):
        print("SHA %s %s" % (results[i][3], results[i][2]))
    # listJobs: the filter counts before paging; pages are in submission order.
    client, t = connect()
    everything = client.listJobs(TOKEN, ListFilter(), Page())
    done = client.listJobs(TOKEN, ListFilter(state=JobState.DONE), Page(offset=5, limit=3))
    queued = client.listJobs(TOKEN, ListFilter(state=JobState.QUEUED), Page())
    ids = [j.id for j in everything.jobs]
    expect(everything.total == len(ids) and ids == sorted(ids), "listJobs: %d jobs in submission order" % len(ids))
    expect(done.total == everything.total and [j.id for j in done.jobs] == ids[5:8],
           "listJobs(state=DONE, offset 5, limit 3): total %d, the 6th to 8th jobs" % done.total)
    expect(queued.total == 0 and not queued.jobs, "listJobs(state=QUEUED): none left")

elif check == "garbage":
    # Random bytes, a frame claiming 2 GB, a frame cut short, a slow client that
    # sends one byte and stays: none may take the server down or block others.
    s = socket.create_connection((host, port))
    s.sendall(os.urandom(4096))
    s.close()
    s = socket.create_connection((host, port))
    s.sendall(struct.pack(">i", 0x7FFFFFFF) + b"\x80\x01\x00\x01")
    s.close()
    s = socket.create_connection((host, port))
    s.sendall(struct.pack(">i", 100) + b"\x80\x01")
    s.close()
    slow = socket.create_connection((host, port))
    slow.sendall(b"\x00")
    start = time.time()
    client, t = connect()
    info = client.serverInfo()
    took = time.time() - start
    expect(info.ranks > 0 and took < 5, "serverInfo answers in %.2f s after garbage, a 2 GB frame header, "
           "a truncated frame and beside a stalled client" % took)
    slow.close()

else:
    print("unknown check " + check)
    sys.exit(2)
