#!/usr/bin/env bash
# Installs what is missing and runs every test, in release mode (tight loops in debug Swift are
# 10–100× slower; @testable imports need -enable-testing). Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

bash Tools/install-deps.sh

flags=(-c release -Xswiftc -enable-testing)
swift build "${flags[@]}" --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test "${flags[@]}" --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?

# XCTest's last summary: "Executed N tests, with [S tests skipped and ]F failures (U unexpected) in ..."
summary=$(grep -E "Executed [0-9]+ tests?, with .*[0-9]+ failures?" "$log" | tail -1 || true)
if [ -n "$summary" ]; then
  total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
  failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")
  skipped=0
  if grep -qE "[0-9]+ tests? skipped" <<<"$summary"; then
    skipped=$(sed -E 's/.* ([0-9]+) tests? skipped.*/\1/' <<<"$summary")
  fi
  echo "$((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit "$status"
