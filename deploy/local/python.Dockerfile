# Stand-in for python:3.11-slim-bookworm where Docker Hub cannot be reached (deploy/smoke.sh builds
# it on a debootstrapped bookworm tagged debian:bookworm-slim). Bookworm's Python is 3.11, like the
# official image; `python` is on PATH and the headers are there for the gateways' C++ build.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3 /usr/local/bin/python
CMD ["python3"]
