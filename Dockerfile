# syntax=docker/dockerfile:1
# One image for web, worker, beat (and the emulator): `docker run IMAGE web|worker|beat`.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=trading.settings \
    TRADING_STAGE=production \
    BIND=0.0.0.0:8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    WORKER_METRICS_BIND=0.0.0.0
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --chown=app:app . .
# collectstatic needs settings; these throwaway values exist only for this build step.
RUN DJANGO_SECRET_KEY=build-only-collectstatic-key-0123456789-abcdefghijklmnopqrstuvwxyz \
    DJANGO_ALLOWED_HOSTS=build DATABASE_URL=postgres://build@127.0.0.1/build \
    REDIS_URL=redis://127.0.0.1:6379/0 python manage.py collectstatic --noinput -v 0
USER 10001:10001
# 8000: web (API, health, /metrics); 9808: a worker's /metrics
EXPOSE 8000 9808
# web: /health/ready; worker: its /metrics answers; beat: the process runs (deploy/healthcheck).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "deploy/healthcheck"]
ENTRYPOINT ["deploy/entrypoint"]
CMD ["web"]
