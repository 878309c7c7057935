# Redis 7 from Debian bookworm's packages, for compose.yaml where the official redis image cannot
# be pulled (deploy/check_compose.sh: REDIS_IMAGE=localhost/digitpad-redis). Runs as user redis.
# Like the official image, protected mode is off (it would refuse the other containers: no
# password, not loopback); `command: ["redis-server", ...]` keeps working.
ARG BASE=localhost/digitpad-base:bookworm
FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data \
    && printf '#!/bin/sh\nif [ "${1:-}" = redis-server ]; then shift; exec redis-server --protected-mode no "$@"; fi\nexec "$@"\n' \
        > /usr/local/bin/redis-entrypoint.sh && chmod +x /usr/local/bin/redis-entrypoint.sh
WORKDIR /data
USER redis
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/redis-entrypoint.sh"]
CMD ["redis-server"]
