# appprofile: one container for the whole bot. Build: docker build -t appprofile .
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY profiles ./profiles
COPY scripts ./scripts
RUN python -m venv /opt/appprofile \
 && /opt/appprofile/bin/pip install --no-cache-dir . \
 && /opt/appprofile/bin/python scripts/install_helm.py /opt/appprofile/bin/helm

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="appprofile" \
      org.opencontainers.image.description="Slack ChatOps bot for App Profiles"
RUN groupadd --system --gid 10001 appprofile \
 && useradd --system --uid 10001 --gid appprofile --home-dir /data --shell /usr/sbin/nologin appprofile \
 && mkdir -p /data \
 && chown appprofile:appprofile /data
COPY --from=build /opt/appprofile /opt/appprofile
ENV PATH="/opt/appprofile/bin:${PATH}" \
    APPPROFILE_DB=/data/appprofile.db \
    HELM_BIN=/opt/appprofile/bin/helm \
    HOME=/data \
    PORT=3000 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
ENTRYPOINT ["appprofile"]
CMD ["serve"]
