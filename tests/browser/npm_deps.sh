#!/usr/bin/env bash
# Installs the pinned npm packages the browser tests drive into PREFIX (the
# build tree's npm/ folder): puppeteer-core 24.x (the last line that runs on
# Node 18, no install scripts, never downloads a browser) and speedscope's
# offline release page. Idempotent: a prefix that already holds both pinned
# versions is left as it is. Chromium itself is Debian's (tests/packages.txt).
# Usage: tests/browser/npm_deps.sh PREFIX
set -euo pipefail
prefix="${1:?usage: npm_deps.sh PREFIX}"
pins=("puppeteer-core@24.43.1" "speedscope@1.25.0")
have() {  # name version
  local pj="$prefix/node_modules/$1/package.json"
  [ -f "$pj" ] && node -e 'process.exit(require(process.argv[1]).version===process.argv[2]?0:1)' "$pj" "$2"
}
ok=1
for p in "${pins[@]}"; do have "${p%@*}" "${p##*@}" || ok=0; done
if [ "$ok" = 0 ]; then
  mkdir -p "$prefix"
  # A lock so two tests that start at once do not install into one prefix together.
  exec 9>"$prefix/.install.lock"
  flock 9
  ok=1
  for p in "${pins[@]}"; do have "${p%@*}" "${p##*@}" || ok=0; done
  if [ "$ok" = 0 ]; then
    PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
      --prefix "$prefix" "${pins[@]}" >&2
  fi
fi
for p in "${pins[@]}"; do
  have "${p%@*}" "${p##*@}" || { echo "npm_deps.sh: $p is not in $prefix/node_modules after npm install" >&2; exit 1; }
done
command -v chromium >/dev/null || { echo "npm_deps.sh: chromium is not installed (expected Debian's package, from tests/packages.txt)" >&2; exit 1; }
[ -f "$prefix/node_modules/speedscope/dist/release/index.html" ] ||
  { echo "npm_deps.sh: $prefix/node_modules/speedscope/dist/release/index.html is missing" >&2; exit 1; }
echo "npm_deps.sh: puppeteer-core and speedscope ready in $prefix"
