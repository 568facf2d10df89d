# syntax=docker/dockerfile:1
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY benches benches
RUN cargo build --profile dist --locked --bin tollgate

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/tollgate --create-home tollgate
COPY --from=build /src/target/dist/tollgate /usr/local/bin/tollgate
COPY config/tollgate.toml /etc/tollgate/tollgate.toml
USER 10001
WORKDIR /var/lib/tollgate
ENV TOLLGATE_BIND=0.0.0.0:8086 \
    TOLLGATE_DATA_DIR=/var/lib/tollgate
EXPOSE 8086
VOLUME ["/var/lib/tollgate"]
ENTRYPOINT ["tollgate"]
CMD ["serve"]
