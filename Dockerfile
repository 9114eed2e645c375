# The hub, its REST edge and the agent in one image; the command picks which.
FROM python:3.11-slim

RUN useradd --system --home-dir /app --shell /usr/sbin/nologin ris
WORKDIR /app
COPY pyproject.toml README.md ./
COPY generated ./generated
COPY server ./server
COPY edge ./edge
COPY agent ./agent
RUN pip install --no-cache-dir . && mkdir -p /app/data && chown ris:ris /app/data

USER ris
ENV RIS_DATA_DIR=/app/data
EXPOSE 8057 50051 50052 9090
VOLUME ["/app/data"]
CMD ["ris-server"]
