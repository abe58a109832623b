#!/usr/bin/env bash
# Builds oneTBB 2021.8 with ThreadSanitizer into build/tbb-tsan/install, for
# the TSan build only (docs: /work/shared/design/PITFALLS.md, "ThreadSanitizer
# and Debian's libtbb"). Debian's libtbb.so is not instrumented, so TSan
# cannot see its hand-offs and reports a false race at every task_group::run
# and task_arena::enqueue; an instrumented build of the same version fixes
# that without suppressions.
#
#   bash scripts/build_tbb_tsan.sh        prints the install prefix last
#
# Steps, each skipped when already done (the script is idempotent):
#   1. If build/tbb-tsan/install already holds TBBConfig.cmake, stop.
#   2. Make sure apt has a deb-src entry: copy the `Types: deb` stanzas of
#      /etc/apt/sources.list.d/debian.sources as `Types: deb-src` into
#      debian-src.sources, then apt-get update (needs root).
#   3. Make sure dpkg-dev (dpkg-source, used by apt-get source), cmake and
#      ninja are installed.
#   4. apt-get source onetbb into build/tbb-tsan/src (the same 2021.8.0 as
#      libtbb-dev).
#   5. Configure with -DTBB_SANITIZE=thread (TBB_STRICT=OFF: GCC 12 warns
#      that atomic_thread_fence is unsupported under TSan and oneTBB builds
#      with -Werror by default), build with -j2, install.
#
# Use it from a TSan build with, e.g.:
#   -I$PREFIX/include -L$PREFIX/lib -Wl,-rpath,$PREFIX/lib -ltbb
# or CMake's -DCMAKE_PREFIX_PATH=$PREFIX (plus an rpath).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

root=$PWD/build/tbb-tsan
prefix=$root/install
jobs=${WEFT_JOBS:-2}

installed_config() {
  compgen -G "$prefix/lib*/cmake/TBB/TBBConfig.cmake" >/dev/null
}

# Step 1.
if installed_config; then
  echo "build_tbb_tsan: already installed"
  echo "$prefix"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "build_tbb_tsan: need root (or sudo) for apt-get" >&2
    exit 1
  fi
  sudo=(sudo)
fi
apt_env=(env DEBIAN_FRONTEND=noninteractive)

# Step 2.
src_list=/etc/apt/sources.list.d/debian-src.sources
has_deb_src() {
  grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! has_deb_src; then
  echo "build_tbb_tsan: adding deb-src entries ($src_list)"
  sed -e 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
    "${sudo[@]}" tee "$src_list" >/dev/null
  "${sudo[@]}" "${apt_env[@]}" apt-get update -q
fi

# Step 3.
need=()
for package in dpkg-dev cmake ninja-build; do
  [[ $(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true) == "install ok installed" ]] ||
    need+=("$package")
done
if [[ ${#need[@]} -gt 0 ]]; then
  "${sudo[@]}" "${apt_env[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# Step 4.
mkdir -p "$root/src"
source_dir=$(compgen -G "$root/src/onetbb-2021.8*" | head -n1 || true)
if [[ -z $source_dir || ! -f $source_dir/CMakeLists.txt ]]; then
  (cd "$root/src" && apt-get source -q onetbb)
  source_dir=$(compgen -G "$root/src/onetbb-2021.8*" | head -n1 || true)
fi
if [[ -z $source_dir || ! -f $source_dir/CMakeLists.txt ]]; then
  echo "build_tbb_tsan: no onetbb-2021.8 source tree under $root/src" >&2
  exit 1
fi

# Step 5.
cmake -S "$source_dir" -B "$root/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTBB_TEST=OFF -DTBB_EXAMPLES=OFF -DTBB_STRICT=OFF \
  -DTBB_SANITIZE=thread -DTBBMALLOC_BUILD=OFF \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib
cmake --build "$root/build" -j "$jobs"
cmake --install "$root/build"

installed_config || { echo "build_tbb_tsan: install has no TBBConfig.cmake" >&2; exit 1; }
echo "$prefix"
