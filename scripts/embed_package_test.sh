#!/usr/bin/env bash
# Installs a build of Weft into a temporary prefix, then configures, builds
# and runs examples/embed as an outside project that finds it with
# find_package(Weft) and links Weft::weft. Nothing is downloaded.
#
#   bash scripts/embed_package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-embed-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
for file in include/weft/weft.h include/weft/engine.h lib/libweft.a \
            lib/cmake/Weft/WeftConfig.cmake lib/cmake/Weft/WeftConfigVersion.cmake bin/weft; do
  if [[ ! -e $work/prefix/$file ]]; then
    echo "missing from the installed tree: $file" >&2
    exit 1
  fi
done
# The public headers stand alone: no engine header is installed or needed.
if grep -rq '#include "engine/' "$work/prefix/include/weft"; then
  echo "an installed header includes an engine header" >&2
  exit 1
fi

# A copy outside the source tree, so nothing of the tree is found by accident.
cp -r "$source/examples/embed" "$work/project"
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$work/project" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" > "$work/configure.log"
cmake --build "$work/build" -j 2 > "$work/build.log"

"$work/build/weft_embed_example" > "$work/out"
cat "$work/out"
grep -qx 'words: 9' "$work/out"
grep -qx 'lookups: 1000 sum of squares: 332833500' "$work/out"
grep -qx 'refused: host/lookup: no record for key -1' "$work/out"
grep -qx "the script's value, back in C++: 332833500" "$work/out"
echo "embed package: installed, found, built and run"
