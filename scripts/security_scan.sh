#!/usr/bin/env bash
# Code and dependency scanning (SECURITY.md, "Scanning"); run by scripts/test.sh.
#
#   bandit     over chat_server/ and schemas/: any finding fails. Skipped checks, each
#              already enforced per line by ruff's flake8-bandit rules (ruff.toml, "S"):
#                B101 assert (used for type narrowing, never as a security check; ruff S101
#                     is off for the same reason), B311 random (jitter only; S311 needs a
#                     noqa per use), B404/B603 subprocess (cluster.py starts our own
#                     instances with argument lists; S603/S607 per use).
#              Reviewed exceptions are marked `# nosec <ID>` on their line.
#   pip-audit  over the installed dependency set (.venv: runtime and dev packages). Known
#              vulnerabilities fail. pip-audit asks PyPI's JSON API for advisories; where
#              that service cannot be reached (this sandbox's PyPI mirror serves packages
#              but not the advisory API) nothing can be audited: that is reported loudly,
#              and does not fail the run, because it says nothing about the code.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.venv/bin:$PATH"
status=0

echo "security: bandit"
if ! bandit -q -r chat_server schemas --skip B101,B311,B404,B603; then
    echo "security: bandit found problems (fix them, or mark a reviewed line '# nosec <ID>')" >&2
    status=1
fi

echo "security: pip-audit"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
# Bounded: an unreachable advisory service must not hang the test run.
timeout 180 pip-audit --progress-spinner off --skip-editable --format json --output "$report" \
    >/dev/null 2>"$report.err"
audit_rc=$?
python - "$report" "$audit_rc" "$report.err" <<'PY' || status=1
import json
import sys

path, rc, err_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    with open(err_path) as fh:
        stderr = fh.read().strip()
except OSError:
    stderr = ""
try:
    with open(path) as fh:
        data = json.load(fh)
except (OSError, ValueError):
    print(f"security: pip-audit did not run (exit {rc}): {stderr[-500:]}")
    print("security: WARNING: dependencies NOT audited")
    sys.exit(0)

deps = data.get("dependencies", [])
vulnerable = [d for d in deps if d.get("vulns")]
skipped = [d for d in deps if d.get("skip_reason")]
audited = len(deps) - len(skipped)
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
        print(f"security: VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} "
              f"(fixed in: {fixes}) {vuln.get('description', '')[:200]}")
if vulnerable:
    sys.exit(1)
if deps and audited == 0:
    reasons = sorted({d["skip_reason"].split(":")[0] for d in skipped})
    print(f"security: WARNING: the vulnerability service could not be used from here; "
          f"0 of {len(deps)} packages were audited ({'; '.join(reasons)}). "
          "Run scripts/security_scan.sh where PyPI's JSON API is reachable.")
    sys.exit(0)
print(f"security: pip-audit: no known vulnerabilities in {audited} packages"
      + (f" ({len(skipped)} could not be audited)" if skipped else ""))
PY
rm -f "$report.err"
exit "$status"
