#!/usr/bin/env bash
# Sets up everything on Debian 12, as root: Debian packages (Orthanc, its
# DICOMweb and PostgreSQL plugins, PostgreSQL, dcmtk, the toolchain),
# libnode (Node.js 18 as a shared library), npm packages, then builds
# dist/plugin/. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

packages=(
  orthanc orthanc-dev orthanc-dicomweb dcmtk
  cmake g++ make python3 pkg-config libjsoncpp-dev ca-certificates procps
  # Debian's libnode loads these from /usr/share/nodejs at start-up and
  # aborts without them.
  node-acorn node-cjs-module-lexer node-undici
  # The browser of the end-to-end tests (driven by playwright-core).
  chromium
  # The shell the index tests use to delete the plugin's search index.
  sqlite3
  # The PostgreSQL store tests run a throw-away cluster (test/support/postgres.ts),
  # and Orthanc's PostgreSQL index plugin lets two Orthancs share it.
  postgresql orthanc-postgresql
  # libnode108's own libraries, for the project-local copy below.
  libuv1 libicu72 libc-ares2 libnghttp2-14 libbrotli1 libssl3 zlib1g
)
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Installing postgresql may create and start Debian's default cluster (main,
# port 5432); it does no harm, and the tests never use it: they initdb their
# own in a temporary folder, on a free port.

# libnode: Debian's libnode-dev where it installs (a stock Debian, whose
# nodejs is Debian's), else a project-local copy: another Node.js package
# (NodeSource's, say) conflicts with it.
libnode_prefix=/usr
if ! dpkg-query -W -f='${Status}' libnode-dev 2>/dev/null | grep -q 'install ok installed'; then
  if apt-get install -y -qq --no-remove libnode-dev >/dev/null 2>&1; then
    echo "setup: using Debian's libnode-dev"
  else
    libnode_prefix="$PWD/.deps/libnode/usr"
    if [ ! -f "$libnode_prefix/include/node/node.h" ]; then
      echo "setup: Debian's libnode-dev conflicts with the installed Node.js; unpacking it into .deps/libnode"
      download=$(mktemp -d)
      chmod 777 "$download"
      (cd "$download" && apt-get download libnode108 libnode-dev)
      rm -rf .deps/libnode && mkdir -p .deps/libnode
      for deb in "$download"/*.deb; do dpkg-deb -x "$deb" .deps/libnode; done
      rm -rf "$download"
    fi
  fi
fi
echo "setup: libnode from $libnode_prefix"

# npm packages. node-gyp builds the test addon (binding.gyp) against
# libnode's headers: N-API is the same for Node 18 and the Node running npm.
export npm_config_nodedir="$libnode_prefix"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

npm run build
echo "setup: built $(ls dist/plugin | tr '\n' ' ')"
