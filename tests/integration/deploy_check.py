"""Checks the objects `kubectl kustomize deploy/` renders (read from stdin).

What must hold for the service to come up in a cluster: an MPIJob whose
launcher runs `mpirun ... shardq serve` on the ports the Service and the probes
name, -np = worker replicas + 1, the PVC, ConfigMap and Secret it references
exist, and everything lands in one namespace. Prints the launcher's shardq
command line (after the last `mpirun` option) for the caller to try.
"""
import shlex
import sys

import yaml

docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, file=sys.stderr)
    if not cond:
        failures.append(what)


by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
for kind in ["Namespace", "ConfigMap", "Secret", "Service", "PersistentVolumeClaim", "MPIJob"]:
    check(len(by_kind.get(kind, [])) == 1, "renders one %s" % kind)
if failures:
    sys.exit(1)

ns = by_kind["Namespace"][0]["metadata"]["name"]
check(all(d["metadata"].get("namespace") == ns for d in docs if d["kind"] != "Namespace"),
      "every object is in namespace %s" % ns)

job = by_kind["MPIJob"][0]
check(job["apiVersion"] == "kubeflow.org/v2beta1", "MPIJob is kubeflow.org/v2beta1")
specs = job["spec"]["mpiReplicaSpecs"]
launcher = specs["Launcher"]["template"]
worker = specs["Worker"]["template"]
lc = launcher["spec"]["containers"][0]
cmdline = " ".join(lc.get("command", []) + lc.get("args", []))
words = shlex.split(cmdline.split("-c", 1)[1]) if " -c" in cmdline else shlex.split(cmdline)
check("mpirun" in words and "serve" in words, "the launcher runs mpirun ... shardq serve")
np = int(words[words.index("-np") + 1])
workers = specs["Worker"]["replicas"]
slots = job["spec"].get("slotsPerWorker", 1)
launcher_slots = 1 if job["spec"].get("runLauncherAsWorker") else 0
check(np == workers * slots + launcher_slots,
      "-np %d = %d worker slot(s) + %d on the launcher (rank 0 serves there)" % (np, workers * slots, launcher_slots))
listen = words[words.index("--listen") + 1]
http = words[words.index("--http") + 1]
ports = {p["name"]: p["containerPort"] for p in lc["ports"]}
check(listen.endswith(":%d" % ports["thrift"]), "--listen %s matches the thrift containerPort %d" % (listen, ports["thrift"]))
check(http.endswith(":%d" % ports["http"]), "--http %s matches the http containerPort %d" % (http, ports["http"]))
check(not listen.startswith("127.") and not http.startswith("127."), "ports bound beyond loopback in the pod")

live, ready = lc["livenessProbe"]["httpGet"], lc["readinessProbe"]["httpGet"]
check(live["path"] == "/healthz" and live["port"] in ("http", ports["http"]), "liveness probe GET /healthz on the http port")
check(ready["path"] == "/readyz" and ready["port"] in ("http", ports["http"]), "readiness probe GET /readyz on the http port")

svc = by_kind["Service"][0]
labels = launcher["metadata"]["labels"]
check(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "the Service selects the launcher pod (rank 0)")
check(not all(worker["metadata"]["labels"].get(k) == v for k, v in svc["spec"]["selector"].items()),
      "the Service does not select worker pods")
check(sorted(p["targetPort"] for p in svc["spec"]["ports"]) == sorted(ports), "Service targetPorts name the container ports")
check(svc["metadata"].get("annotations", {}).get("prometheus.io/path") == "/metrics", "scrape annotation for /metrics")

pvc = by_kind["PersistentVolumeClaim"][0]["metadata"]["name"]
for role, tpl in (("launcher", launcher), ("worker", worker)):
    claims = [v["persistentVolumeClaim"]["claimName"] for v in tpl["spec"]["volumes"] if "persistentVolumeClaim" in v]
    mounts = [m["mountPath"] for m in tpl["spec"]["containers"][0]["volumeMounts"]]
    check(claims == [pvc] and "/data" in mounts, "%s mounts PVC %s at /data" % (role, pvc))
check("ReadWriteMany" in by_kind["PersistentVolumeClaim"][0]["spec"]["accessModes"], "the PVC is ReadWriteMany (all pods read models)")

cm = by_kind["ConfigMap"][0]
secret = by_kind["Secret"][0]
env = {e["name"]: e["valueFrom"] for e in lc["env"]}
check(env["SHARDQ_ROOTS"]["configMapKeyRef"]["name"] == cm["metadata"]["name"] and
      env["SHARDQ_ROOTS"]["configMapKeyRef"]["key"] in cm["data"], "roots come from the ConfigMap")
check(all(r.startswith("/data/") for r in cm["data"]["roots"].split(",")), "every root is on the PVC")
check(env["SHARDQ_TOKEN"]["secretKeyRef"]["name"] == secret["metadata"]["name"] and
      env["SHARDQ_TOKEN"]["secretKeyRef"]["key"] in secret.get("stringData", secret.get("data", {})),
      "the token comes from the Secret")
check("--state" in words and words[words.index("--state") + 1].startswith("/data/"), "--state is on the PVC")

if failures:
    sys.exit(1)
# The shardq part of the command line, for the caller to run here.
print(" ".join(shlex.quote(w) for w in words[words.index("serve"):]))
