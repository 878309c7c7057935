# nginx from Debian bookworm's packages, for compose.yaml where the official nginx image cannot be
# pulled (deploy/check_compose.sh: NGINX_IMAGE=localhost/digitpad-nginx). Runs as www-data:
# deploy/nginx.conf listens on 8080, keeps its pid in /tmp and logs to stdout/stderr.
ARG BASE=localhost/digitpad-base:bookworm
FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/nginx /var/log/nginx \
    && chown -R www-data:www-data /var/lib/nginx /var/log/nginx
USER www-data
EXPOSE 8080
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
