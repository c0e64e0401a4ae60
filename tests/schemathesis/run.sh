#!/usr/bin/env bash
# schemathesis against a running seedgate's /api/v1/openapi.json: every operation gets
# generated requests, and any server error, response that does not match its schema, status
# the document does not list, or wrong content type fails the run (exit status non-zero).
#
#   tests/schemathesis/run.sh http://127.0.0.1:8080 sg_… [max examples per operation]
#
# tests/schemathesis.rs starts a `seedgate up` and runs this; .ci/test installs the pinned
# schemathesis.
set -euo pipefail
base=${1:?usage: run.sh BASE_URL TOKEN [MAX_EXAMPLES]}
token=${2:?usage: run.sh BASE_URL TOKEN [MAX_EXAMPLES]}
examples=${3:-25}
# schemathesis 3.39 breaks on newer Hypothesis (`'many' object has no attribute 'more'`).
version=3.39.16 hypothesis=6.125.0
if ! python3 -c "import importlib.metadata as m; assert m.version('schemathesis') == '$version' and m.version('hypothesis') == '$hypothesis'" 2>/dev/null; then
  echo "[schemathesis] installing PyPI schemathesis==$version hypothesis==$hypothesis" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "schemathesis==$version" "hypothesis==$hypothesis" >&2
fi
exec python3 -m schemathesis.cli run "$base/api/v1/openapi.json" \
  --experimental=openapi-3.1 \
  --base-url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --hypothesis-max-examples "$examples" \
  --hypothesis-derandomize \
  --hypothesis-deadline None \
  --hypothesis-suppress-health-check all \
  --workers 1 \
  --no-color
