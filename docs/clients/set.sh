#!/bin/sh
# Masking/set with curl. CALLMASK_URL, CALLMASK_USER and CALLMASK_TOKEN name the server and
# the client user; the two numbers are the arguments.
curl -sS "${CALLMASK_URL:-http://127.0.0.1:8080}/api/v2/Masking/set" \
  -H 'Content-Type: application/json' \
  --data-raw "{\"userId\":\"$CALLMASK_USER\",\"token\":\"$CALLMASK_TOKEN\",\"m1\":\"$1\",\"m2\":\"$2\",\"expiry_duration\":60}"
