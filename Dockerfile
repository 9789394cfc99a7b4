# movierec server image. Multi-stage: build wheels with the toolchain, run slim and non-root.
#   make train                       # writes ./registry (needs the data; see README)
#   docker build -t movierec .
#   docker run --rm -p 50051:50051 -v "$PWD/registry:/srv/registry:ro" movierec
# Same settings as `make serve`: port 50051, registry dir, production pointer.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY clients/python/ clients/python/
COPY pyproject.toml README.md ./
COPY artifacts/ artifacts/
COPY index/ index/
COPY service/ service/
COPY trainer/ trainer/
RUN python -m venv /opt/movierec \
 && /opt/movierec/bin/pip install ./clients/python . \
 && /opt/movierec/bin/python -c "import movierec.service.server, movierec.client"

FROM python:${PYTHON_VERSION}-slim AS runtime
# libgomp: OpenMP runtime that faiss-cpu and xgboost load at import.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /srv movierec
COPY --from=build /opt/movierec /opt/movierec
ENV PATH=/opt/movierec/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MOVIEREC_REGISTRY_DIR=/srv/registry \
    MOVIEREC_PORT=50051
WORKDIR /srv
USER movierec
EXPOSE 50051 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-m", "movierec.service.healthcheck", "localhost:50051"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["movierec-serve"]
