# Sourced by the start scripts: a fresh prometheus multiprocess directory per service.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR%/}/$1"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  export PROMETHEUS_MULTIPROC_DIR
fi
