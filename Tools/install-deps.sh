#!/usr/bin/env bash
# Installs the Debian packages EventDistill builds and runs with, only those missing.
# Idempotent: a second run installs nothing and does not touch the network.
set -euo pipefail

packages=(
  pkg-config
  libhdf5-dev                      # HDF5 1.10 (serial): event recordings and outputs
  hdf5-filter-plugin-blosc-serial  # HDF5 filter 32001, for DSEC's Blosc-compressed files
  libblosc-dev                     # Blosc itself: we decompress DSEC chunks on all cores
  libopenblas-dev                  # sgemm for the tensor engine
  libpng-dev                       # PNG pictures
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: Swift 6 is not on PATH (expected at /opt/swift/usr/bin); install the Swift toolchain first" >&2
  exit 1
fi
