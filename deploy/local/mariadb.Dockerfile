# Stand-in for the mysql:8.0 image where Docker Hub cannot be reached: Debian bookworm's MariaDB
# (MySQL-compatible; deploy/init_data/schema.sql is plain MySQL 8 syntax that MariaDB accepts), with
# an entry point that honours the same MYSQL_* variables and /docker-entrypoint-initdb.d/ as the
# official image. Used by docker-compose.local-db.yml (deploy/smoke.sh).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends mariadb-server mariadb-client \
    && rm -rf /var/lib/apt/lists/* /var/lib/mysql \
    && mkdir -p /var/lib/mysql /run/mysqld /docker-entrypoint-initdb.d \
    && chown mysql:mysql /var/lib/mysql /run/mysqld
COPY mariadb-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME ["/var/lib/mysql"]
EXPOSE 3306
# Debian gives the mysql user whatever id is free; the name is the only stable handle.
# hadolint ignore=DL3066
USER mysql
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["mariadbd"]
