# PostgreSQL 15 from Debian bookworm's packages, for compose.yaml where the official postgres
# image cannot be pulled (deploy/check_compose.sh: POSTGRES_IMAGE=localhost/digitpad-postgres).
# Like the official image: POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB make the cluster in
# /var/lib/postgresql/data on the first start; runs as the package's user, postgres.
ARG BASE=localhost/digitpad-base:bookworm
FROM ${BASE}
# No "main" cluster at install time: the entrypoint makes one in PGDATA on the first start.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
    && sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /run/postgresql \
    && chown postgres:postgres /var/lib/postgresql/data /run/postgresql \
    && chmod 700 /var/lib/postgresql/data
COPY deploy/images/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
CMD ["postgres"]
