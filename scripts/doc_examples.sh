#!/usr/bin/env bash
# Runs the examples of a Markdown document as script tests.
#
#   bash scripts/doc_examples.sh WEFT_BINARY [DOC.md]   (default docs/LANGUAGE.md)
#
# Every ```weft fenced block becomes its own file, named after the line it
# starts on, and `weft test` runs the folder: blocks with `# expect:`
# comments are checked, the others are only illustrations and are skipped.
# Exit status: weft test's, or 77 (ctest's "skipped") when DOC.md is absent.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 WEFT_BINARY [DOC.md]" >&2
  exit 64
fi
weft=$1
doc=${2:-docs/LANGUAGE.md}

if [[ ! -f $doc ]]; then
  echo "doc_examples: $doc does not exist; nothing to check" >&2
  exit 77
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/weft-doc-examples.XXXXXX")
trap 'rm -rf "$workdir"' EXIT

stem=$(basename "$doc" .md)
awk -v dir="$workdir" -v stem="$stem" '
  # Opening fence: ```weft (optionally indented, optionally followed by spaces).
  !inside && /^[ \t]*```weft[ \t]*$/ {
    inside = 1
    file = sprintf("%s/%s_line%05d.weft", dir, stem, NR)
    printf "" > file
    count++
    next
  }
  inside && /^[ \t]*```[ \t]*$/ {
    inside = 0
    close(file)
    next
  }
  inside { print > file }
  END {
    if (inside) {
      printf "doc_examples: unterminated ```weft block in %s\n", FILENAME > "/dev/stderr"
      exit 1
    }
    printf "doc_examples: %d weft block(s) extracted from %s\n", count, FILENAME
  }
' "$doc"

"$weft" test "$workdir"
