#!/usr/bin/env bash
# Fails when the committed console (gen/console) differs from a fresh `make web` build: a changed,
# missing or stale file. Needs web/node_modules and web/build (make web-deps).
set -euo pipefail
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
node web/build.mjs "$fresh"
status=0
for file in $( (cd "$fresh" && ls) | sort); do
  if ! cmp -s "$fresh/$file" "gen/console/$file"; then
    echo "check-console: gen/console/$file differs from a fresh build (run 'make web')" >&2
    status=1
  fi
done
for file in $( (cd gen/console && ls) | sort); do
  if [[ ! -e "$fresh/$file" ]]; then
    echo "check-console: gen/console/$file is not built any more (remove it)" >&2
    status=1
  fi
done
exit $status
