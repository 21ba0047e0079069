#!/usr/bin/env python3
"""PostgreSQL restarted under write load.

Starts `weave serve` on a fresh PostgreSQL database with the demo hub, runs writers that post
stock movements (each retried with its own Idempotency-Key until it is answered), restarts the
PostgreSQL cluster in the middle, and then checks: the service answers again, every
acknowledged write is present exactly once, and the books balance.

    python3 benches/faults/pg_restart.py target/release/weave postgres://weave:weave@127.0.0.1:5432/postgres

Needs root (or sudo) for `pg_ctlcluster 15 main restart`. Only the Python standard library.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

BIN, ADMIN_URL = sys.argv[1], sys.argv[2]
BASE_URL = ADMIN_URL.rsplit("/", 1)[0]
DB = "weave_faults"
PORT = 18095
API = f"http://127.0.0.1:{PORT}"


def psql(sql):
    subprocess.run(["psql", ADMIN_URL, "-qc", sql], check=True, stdout=subprocess.DEVNULL)


def call(method, path, body=None, token=None, key=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(API + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    if key:
        request.add_header("idempotency-key", key)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def as_root(command):
    return command if os.geteuid() == 0 else ["sudo"] + command


def main():
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    url = f"{BASE_URL}/{DB}"
    data = tempfile.mkdtemp()
    env = dict(os.environ, WEAVE_DATABASE_URL=url, WEAVE_DATA_DIR=data, WEAVE_LOG="error",
               WEAVE_DAILY_MATCHING="false")
    subprocess.run([BIN, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{PORT}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run(server)
    finally:
        server.terminate()
        server.wait()
        psql(f"DROP DATABASE IF EXISTS {DB}")


def wait_ready(limit):
    start = time.time()
    while time.time() - start < limit:
        try:
            if call("GET", "/readyz", timeout=2)[0] == 200:
                return time.time() - start
        except Exception:
            pass
        time.sleep(0.1)
    raise SystemExit("the service did not become ready")


def run(server):
    wait_ready(30)
    token = call("POST", "/api/v1/auth/token", {"email": "admin@weave.demo", "password": "weave-admin-2020"})[1]["token"]
    warehouse = [l for l in call("GET", "/api/v1/locations", token=token)[1] if l["kind"] == "warehouse"][0]["id"]
    donor = call("GET", "/api/v1/organisations?kind=donor", token=token)[1]["items"][0]["id"]
    item = call("GET", "/api/v1/items", token=token)[1]
    item = (item["items"] if isinstance(item, dict) else item)[0]["id"]
    pledge = call("POST", "/api/v1/pledges", {"donor_id": donor, "kind": "goods", "item_id": item, "quantity": 1000000},
                  token, str(uuid.uuid4()))[1]["id"]
    lot = call("POST", "/api/v1/stock-movements", {"kind": "receive", "pledge_id": pledge, "location_id": warehouse,
                                                   "quantity": 1000000}, token, str(uuid.uuid4()))[1]["movements"][0]["lot_id"]
    acknowledged, errors, lock = [], {}, threading.Lock()
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            key = str(uuid.uuid4())
            body = {"kind": "adjust", "lot_id": lot, "location_id": warehouse, "quantity": -1, "reason": "load"}
            while True:  # the same request, the same key, until it is answered
                try:
                    status, answer = call("POST", "/api/v1/stock-movements", body, token, key, timeout=15)
                except Exception as error:
                    status, answer = type(error).__name__, None
                if status == 201:
                    with lock:
                        acknowledged.append(answer["movements"][0]["id"])
                    break
                with lock:
                    errors[str(status)] = errors.get(str(status), 0) + 1
                time.sleep(0.1)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    before = len(acknowledged)
    restart_at = time.time()
    subprocess.run(as_root(["pg_ctlcluster", "15", "main", "restart"]), check=True)
    restarted = time.time() - restart_at
    recovered = wait_ready(60)
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    missing = [i for i in acknowledged if call("GET", f"/api/v1/stock-movements/{i}", token=token)[0] != 200]
    check = call("GET", "/api/v1/books/check", token=token)[1]
    adjusts = call("GET", f"/api/v1/stock-movements?lot_id={lot}&kind=adjust&per_page=1", token=token)[1]["total"]
    stock = call("GET", f"/api/v1/stock?item_id={item}&location_id={warehouse}", token=token)[1]
    available = stock[0]["available"]
    print(f"| writes acknowledged | {len(acknowledged)} ({before} before the restart) |")
    print(f"| refused or failed attempts while PostgreSQL restarted (then retried with their key) | {json.dumps(errors, sort_keys=True)} |")
    print(f"| PostgreSQL restart took | {restarted:.1f} s; the service answered /readyz again {recovered:.1f} s after it was back |")
    print(f"| acknowledged writes missing afterwards | {len(missing)} |")
    print(f"| adjust movements in the ledger | {adjusts} (acknowledged: {len(acknowledged)}) |")
    print(f"| available units | {available} (1000000 - {adjusts}) |")
    print(f"| books check | {'sound' if check['sound'] else check['problems']} |")
    ok = not missing and adjusts == len(acknowledged) and available == 1000000 - adjusts and check["sound"]
    sys.exit(0 if ok else 1)


main()
