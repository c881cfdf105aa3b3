#!/usr/bin/env bash
# npm run test:real: the real suite in two phases, so it fits CI's budget on two cores.
#   1. The doctor's files read the whole host (its discovery of compose projects, other stacks and
#      port publishers: lib/doctor/discover.ts) and run alone, one after another: another test's
#      containers (the takeover tests' compose projects above all) would be part of what they see.
#   2. Everything else is isolated by construction (unique stack and compose project names, free
#      ports, a state backend and project folder per stack; the program and takeover:plan only
#      look at what they are told to) and runs CARTIE_REAL_JOBS files at once
#      (mocha --parallel; default 3: the tests wait on Docker, Postgres and the engine far more
#      than they compute).
# Arguments are passed to both mocha runs (e.g. --grep). Exit status: non-zero if either failed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
mocha=(npx mocha --config test/real/.mocharc.json)
host_wide=('test/real/doctor/**/*.test.ts')
jobs="${CARTIE_REAL_JOBS:-3}"

echo "=== real suite, phase 1 of 2: the doctor, which reads the whole host, alone"
"${mocha[@]}" "$@" "${host_wide[@]}"
rc1=$?

echo "=== real suite, phase 2 of 2: the isolated files, $jobs at once"
# The longest files first (CI, two cores: 5–10 min each), so none of them starts last and runs alone.
longest=(engine/interrupted deploys/deploys deploys/noReload drift/engine engine/dbHealth takeover/layouts backup/backup)
files=()
for f in "${longest[@]}"; do files+=("test/real/$f.test.ts"); done
while IFS= read -r f; do
  case " ${files[*]} " in *" $f "*) ;; *) files+=("$f") ;; esac
done < <(find test/real -name '*.test.ts' -not -path 'test/real/doctor/*' | sort)
"${mocha[@]}" --parallel --jobs "$jobs" "$@" "${files[@]}"
rc2=$?

[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]
