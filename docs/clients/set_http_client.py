"""Masking/set with Python's http.client: `python set_http_client.py M1 M2`.

http.client computes Content-Length from the body itself; never set the header by hand.
"""

import http.client
import json
import os
import sys
from urllib.parse import urlsplit

url = urlsplit(os.environ.get("CALLMASK_URL", "http://127.0.0.1:8080"))
body = json.dumps(
    {
        "userId": os.environ["CALLMASK_USER"],
        "token": os.environ["CALLMASK_TOKEN"],
        "m1": sys.argv[1],
        "m2": sys.argv[2],
        "expiry_duration": 60,
    }
)
connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
connection.request(
    "POST", "/api/v2/Masking/set", body, headers={"Content-Type": "application/json"}
)
print(connection.getresponse().read().decode())
