#!/usr/bin/env bash
# Installs every Debian package shardq needs to build, test and run.
# Idempotent: packages already present are skipped by apt. Runs as root on Debian 12.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libopenmpi-dev openmpi-bin            # MPI ranks
  libboost-dev libboost-system-dev      # Boost.Asio
  libthrift-dev thrift-compiler         # job service
  python3-thrift prometheus curl        # service tests: a Python client from the IDL, promtool, HTTP
  librocksdb-dev                        # state store
  catch2                                # tests (v2 single header)
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev
  libopenblas-dev libopenblas0-pthread liblapacke-dev   # GEMM / Cholesky
  libzstd-dev libssl-dev                # compression, sha256
  libsentencepiece-dev                  # reading tokenizer.model, reference tokenizer
)

# The deploy test renders deploy/ with `kubectl kustomize`: Debian's kubectl
# unless one is installed already (another package may own /usr/bin/kubectl).
command -v kubectl >/dev/null || PACKAGES+=(kubernetes-client)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
