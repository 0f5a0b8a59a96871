# Clippy API (and, with another command, the job worker). Build: docker build -t clippy .
# CPU image; for CUDA, base on an nvidia/cuda runtime image and drop the CPU wheel index below.

# --- the sketch client (Vite build) ---------------------------------------------------------
FROM node:20-slim AS client
WORKDIR /client
COPY client/package.json client/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY client/ ./
RUN npm run build

# --- the service ----------------------------------------------------------------------------
FROM python:3.11-slim
# Every path setting is absolute here: the process runs as `clippy` and may write only under
# /data and /models (the volumes), never in /app, which root owns (tests/ship checks both).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/models/hf \
    MODEL_CACHE_DIR=/models/open_clip \
    CLIENT_DIST=/app/client/dist \
    IMAGES_ROOT=/app/assets/sample \
    QDRANT_PATH=/data/qdrant \
    THUMBS_ROOT=/data/thumbs \
    GENERATED_ROOT=/data/generated \
    EMBED_CACHE_PATH=/data/embed_cache.sqlite \
    ADAPTERS_ROOT=/data/adapters \
    LOG_FORMAT=json
# curl for the HEALTHCHECK. Debian's versions move within a release: not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 clippy \
    && mkdir -p /data /models && chown clippy:clippy /data /models
WORKDIR /app
# torch + torchvision as one matched pair, before the project so the layer caches: CPU wheels by
# default; `--build-arg TORCH_INDEX=https://pypi.org/simple` takes the registry's CUDA build
# (compose's `gpu` profile; it also runs on a CPU).
# The versions are constraints.txt's, the pair requirements.lock holds.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
COPY constraints.txt ./
# hadolint ignore=DL3013
RUN pip install --constraint constraints.txt --index-url "$TORCH_INDEX" torch torchvision
COPY pyproject.toml README.md ./
COPY app app
# A server: the service and the embedded engine, plus the generation providers (pyproject's
# extras; `--build-arg EXTRAS=` for search only). The benchmark tools stay out.
ARG EXTRAS=sdxl,google
RUN pip install --constraint constraints.txt ".[${EXTRAS}]"
# Not packaged: the seed's entry points and the offline programs, run by path over `app`.
COPY qdrant qdrant
COPY scripts scripts
COPY main.py ./
COPY assets assets
COPY --from=client /client/dist client/dist
USER 1000:1000
VOLUME ["/data", "/models"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD ["curl", "-fsS", "http://127.0.0.1:8000/healthz"]
# One worker process per container (scale containers, not --workers): the embedded store allows
# one process, and each process keeps its own Prometheus numbers. On SIGTERM uvicorn stops
# accepting, finishes requests in flight (up to 30 s), then the lifespan stops jobs and the store.
# Forwarded headers are believed from no one unless FORWARDED_ALLOW_IPS names the proxy in front
# (uvicorn's default would trust 127.0.0.1, and with it anything relayed through a local hop).
ENV FORWARDED_ALLOW_IPS=""
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "30", "--no-access-log"]
