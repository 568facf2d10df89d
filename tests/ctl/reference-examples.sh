#!/usr/bin/env bash
# influxctl's documented example command lines (influxctl 2.12: `token create|list|get|revoke`,
# `management create|list|revoke`), run unchanged against tollgate. Only the placeholders are
# filled in: database names, descriptions, and the ids read back from earlier output the way
# the documentation describes it (the create table's `id` row; the token alone on the last
# line). The management example's `date -v+1d -Iseconds` is BSD date; GNU date spells it
# `date -d "+1 day" -Iseconds`. influxctl comes from PATH and finds its config.toml at the default path.
#
# Each command's stdout follows a `### <step>` line, for tests/api/ctl.rs to parse.
set -euo pipefail

step() { printf '### %s\n' "$1"; }
# The `id` row of a create table: `|          id | <id> |`.
id_of() { awk -F'|' '$2 ~ /^ *id *$/ { gsub(/ /, "", $3); print $3 }'; }

step token-create-several
out=$(influxctl token create \
  --read-database mydb1 \
  --read-database mydb2 \
  --write-database mydb2 \
  "Read-only on mydb1, Read/write on mydb2")
printf '%s\n' "$out"
SEVERAL_ID=$(printf '%s\n' "$out" | id_of)

step token-create-all
out=$(influxctl token create \
  --read-database "*" \
  --write-database "*" \
  "Read/write token for all databases")
printf '%s\n' "$out"
ALL_ID=$(printf '%s\n' "$out" | id_of)

step token-create-expiring
out=$(influxctl token create \
  --read-database mydb1 \
  --write-database mydb1 \
  --expires-at $(date -d "+7 days" +"%Y-%m-%dT%H:%M:%S%z") \
  "Read/write token for mydb1")
printf '%s\n' "$out"
EXPIRING_ID=$(printf '%s\n' "$out" | id_of)

step token-list
influxctl token list

step token-list-json
influxctl token list --format json

step token-get
influxctl token get "$SEVERAL_ID"

step token-get-json
influxctl token get --format json "$SEVERAL_ID"

step token-revoke
influxctl token revoke --force "$SEVERAL_ID" "$EXPIRING_ID"

step token-list-after-revoke
influxctl token list --format json

step management-create
out=$(influxctl management create \
  --expires-at $(date -d "+1 day" -Iseconds) \
  --description "Client3 token")
printf '%s\n' "$out"
MGMT_ID=$(printf '%s\n' "$out" | id_of)

step management-create-no-expiry
influxctl management create

step management-list
influxctl management list

step management-list-json
influxctl management list --format json

step management-revoke
influxctl management revoke --force "$MGMT_ID"

step management-list-after-revoke
influxctl management list --format json
