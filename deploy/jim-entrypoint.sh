#!/bin/sh
# Container entry point of jim-server. The database password comes from a file (a compose or
# Kubernetes secret) named by PGPASSWORD_FILE, and reaches the server as PGPASSWORD in its
# environment: it is never in a command line, where `ps` would show it.
set -eu
if [ -n "${PGPASSWORD_FILE:-}" ]; then
  PGPASSWORD=$(cat "$PGPASSWORD_FILE")
  export PGPASSWORD
  unset PGPASSWORD_FILE
fi
exec deno run --allow-net --allow-read --allow-write --allow-env --allow-run=prlimit \
  --unstable-net --v8-flags=--optimize-for-size /app/bin/jim-server.ts "$@"
