#!/bin/bash
# format.sh: clang-format (the project's .clang-format) over every C file of the project.
#   bash scripts/format.sh          reformat in place
#   bash scripts/format.sh --check  list the files that differ and exit 1 (CI)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
if [[ ${1:-} == --check ]]; then
	bad=0
	for f in "${files[@]}"; do
		if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
			echo "format.sh: $f differs from .clang-format (run: bash scripts/format.sh)" >&2
			bad=1
		fi
	done
	((bad == 0)) && echo "format.sh: ${#files[@]} files formatted as .clang-format says" >&2
	exit $bad
fi
clang-format -i "${files[@]}"
