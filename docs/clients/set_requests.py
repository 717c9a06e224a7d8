"""Masking/set with requests: `python set_requests.py M1 M2`."""

import os
import sys

import requests

answer = requests.post(
    os.environ.get("CALLMASK_URL", "http://127.0.0.1:8080") + "/api/v2/Masking/set",
    json={
        "userId": os.environ["CALLMASK_USER"],
        "token": os.environ["CALLMASK_TOKEN"],
        "m1": sys.argv[1],
        "m2": sys.argv[2],
        "expiry_duration": 60,
    },
    timeout=10,
)
print(answer.text)
