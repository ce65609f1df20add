"""Online serving of an MLflow model: forgeml's endpoint router against `mlflow models serve`.

`python benchmarks/serving.py [--quick] [--models logreg,forest] [--workers 1,2]
[--clients 1,8,64] [--seconds 10] [--warmup 2] [--reps 1] [--no-wrk] [--out PATH]
[--report-only]` saves scikit-learn models trained on a synthetic dataset of 8 numeric features
with `mlflow.sklearn.save_model` (with a signature) and serves each folder, at the same time and
on loopback, by:

- forgeml: one `forgeml up` on a fresh home, an online endpoint and an MLflow no-code deployment
  (`type: mlflow_model`, `environment: {image: python:3.11}`, which runs the scoring host on the
  workspace's own Python: the same mlflow, scikit-learn and pandas as the peer) with
  `instance_count` = workers, scored through the router at `/endpoints/<name>/score` with the
  endpoint's Bearer key; and directly at the scoring host's own address with the per-instance
  key the router shows it (both read from the run's own workspace the way the router reads
  them), which isolates what the router adds;
- MLflow: `mlflow models serve -m <folder> --env-manager local --workers N` (uvicorn).

A custom deployment whose `run()` returns a constant (no model) gives the router's overhead
without a model's noise. The load generator is `wrk` (one thread, one kept-alive connection per
client, a Lua script for the POST body, headers and percentiles), or where wrk is missing an
asyncio generator with raw HTTP/1.1 over kept-alive streams in its own process. Every point is a
warm-up run, then a timed one; within each client count the targets take turns. The CPU time
every server process used during a timed run is read from /proc. Also measured, in a separate
process and without HTTP: the model's predict, the pyfunc predict, forgeml's scorer and MLflow's
`invocations()` on the same body. Results: benchmarks/RESULTS-serving.md (what follows its
`<!-- reading` mark is kept across reruns), also copied into benchmarks/RESULTS.md; raw numbers in
benchmarks/.work/serving-last-results.json; logs in benchmarks/.work/serving-logs/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipelines import Server, free_port, machine

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
LOGS = WORK / "serving-logs"
BIN = Path(sys.executable).parent
WRK = shutil.which("wrk")
#: where the load generator's script goes (it holds the endpoint's key): this run's temp folder
SCRATCH = WORK
TICK = os.sysconf("SC_CLK_TCK")
FEATURES = [f"f{i}" for i in range(8)]
ROW = [0.5, -1.25, 0.75, 2.0, -0.3, 1.1, 0.0, -2.2]
BODY = json.dumps({"dataframe_split": {"columns": FEATURES, "data": [ROW]}}).encode()
JSON_CT = {"content-type": "application/json"}
MODELS = {
    "logreg": "LogisticRegression()",
    "forest": "RandomForestClassifier(n_estimators=10, random_state=0)",
}
NOOP = "no-op script"
#: forgeml's processes by what their command line holds (the rest: `forgeml up` itself)
ROLES = ((b"forgeml_scoring.online", "hosts"), (b"forgeml.serving.worker", "workers"))

SAVE_MODEL_PY = """
import sys
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

X, y = make_classification(n_samples=2000, n_features=8, random_state=0)
frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
model = eval(sys.argv[2]).fit(frame, y)
signature = infer_signature(frame, model.predict(frame))
# MLflow saves with skops, which loads trees only when told their type is trusted
trusted = ["sklearn.tree._tree.Tree"] if "Forest" in sys.argv[2] else None
mlflow.sklearn.save_model(model, sys.argv[1], signature=signature, skops_trusted_types=trusted)
"""

#: per-call cost without HTTP: argv = model folder, body; wall and CPU microseconds per call
MICRO_PY = """
import json, sys, time, statistics
from pathlib import Path
import mlflow.pyfunc, mlflow.sklearn, pandas as pd
from mlflow.pyfunc import scoring_server
from forgeml.serving.envside.scoring import MlflowScorer

folder, body = sys.argv[1], sys.argv[2].encode()
pyfunc = mlflow.pyfunc.load_model(folder)
native = mlflow.sklearn.load_model(folder)
frame = pd.DataFrame(**json.loads(body)["dataframe_split"])
scorer = MlflowScorer(Path(folder))
schema = pyfunc.metadata.get_input_schema()
assert json.loads(scorer.score(body, "application/json"))["predictions"]
cases = {
    "sklearn predict(DataFrame)": lambda: native.predict(frame),
    "pyfunc predict(DataFrame)": lambda: pyfunc.predict(frame),
    "forgeml scorer.score(body)": lambda: scorer.score(body, "application/json"),
    "mlflow invocations(body)": lambda: scoring_server.invocations(
        body, "application/json", pyfunc, schema
    ),
}
out = {}
for name, call in cases.items():
    for _ in range(100):
        call()
    wall, cpu = [], []
    for _ in range(7):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(200):
            call()
        wall.append((time.perf_counter() - t0) / 200 * 1e6)
        cpu.append((time.process_time() - c0) / 200 * 1e6)
    out[name] = {"wall_us": statistics.median(wall), "cpu_us": statistics.median(cpu)}
print(json.dumps(out))
"""

#: the ready scoring hosts of a deployment: argv = home, endpoint, deployment; prints
#: {address: {header: value}}, what the router sends each host to be admitted
HOSTS_PY = """
import json, sys
from pathlib import Path
from forgeml.server import open_workspace
from forgeml.services.context import Context
from forgeml.services.serving import routing
from forgeml.settings import Settings
try:
    from forgeml.serving.envside.online import SECRET_HEADER
except ImportError:
    SECRET_HEADER = None
workspace = open_workspace(Settings(home=Path(sys.argv[1])), migrate=False)
dep = routing(Context(workspace))[sys.argv[2]].deployments[sys.argv[3]]
secrets = getattr(dep, "secrets", {})
print(json.dumps({
    address: {SECRET_HEADER: secrets[address].decode()}
    if SECRET_HEADER and address in secrets else {}
    for address in dep.addresses
}))
"""

NOOP_SCORE_PY = "def init():\n    pass\n\n\ndef run(raw_data):\n    return {'ok': 1}\n"

WRK_LUA = """
wrk.method = "POST"
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"errors":%d,"non_2xx":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""

#: the fallback generator (no wrk): argv = host, port, path, clients, seconds, headers JSON, body
LOADGEN_PY = """
import asyncio, json, sys, time
host, port, path, clients, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], \\
    int(sys.argv[4]), float(sys.argv[5])
headers, body = json.loads(sys.argv[6]), sys.argv[7].encode()
head = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", f"content-length: {len(body)}"]
head += [f"{k}: {v}" for k, v in headers.items()]
request = ("\\r\\n".join(head) + "\\r\\n\\r\\n").encode()
request += body
lat, stats = [], {"errors": 0, "non_2xx": 0}

async def client(stop):
    reader, writer = await asyncio.open_connection(host, port)
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        writer.write(request)
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\\r\\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        lat.append(time.perf_counter() - t0)
        stats["non_2xx"] += not 200 <= status < 400
    writer.close()

async def main():
    t0 = time.perf_counter()
    done = await asyncio.gather(*(client(t0 + seconds) for _ in range(clients)),
                                return_exceptions=True)
    took = time.perf_counter() - t0
    stats["errors"] += sum(isinstance(d, BaseException) for d in done)
    lat.sort()
    pick = lambda q: int(lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6) if lat else 0
    print("RESULT " + json.dumps({"requests": len(lat), "duration_us": int(took * 1e6),
        "p50_us": pick(0.5), "p90_us": pick(0.9), "p99_us": pick(0.99),
        "max_us": pick(1.0), **stats}))

try:
    import uvloop
    uvloop.install()
except ImportError:
    pass
asyncio.run(main())
"""


# ------------------------------------------------------------------------------ processes


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def cpu_by_role(roots: dict[str, int]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of every live process under each root, keyed 'system role'."""
    table = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(int(p)))}
    out: dict[str, dict[int, float]] = {}
    for system, root in roots.items():
        todo = [root]
        while todo:
            pid = todo.pop()
            if pid not in table:
                continue
            todo += [p for p, (parent, _) in table.items() if parent == pid]
            cmd = _cmdline(pid)
            role = (
                "mlflow models serve"
                if system != "forgeml"
                else "router (forgeml up)"
                if pid == root
                else "other"
            )
            role = next((name for mark, name in ROLES if mark in cmd), role)
            out.setdefault(f"{system} {role}", {})[pid] = table[pid][1]
    return out


def kill_marked(marker: str) -> None:
    """Kill what this run started that is still alive: every process naming `marker` (a temp
    folder of this run) on its command line."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        hit = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            if marker.encode() in _cmdline(int(entry)):
                with contextlib.suppress(OSError):
                    os.kill(int(entry), sig)
                    hit = True
        if not hit:
            return
        time.sleep(1.5)


class Mlflow:
    """`mlflow models serve` in its own process group (uvicorn and its workers with it)."""

    def __init__(self, model: Path, workers: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
        args = [str(BIN / "mlflow"), "models", "serve", "-m", str(model), "--env-manager"]
        args += ["local", "-h", "127.0.0.1", "-p", str(self.port), "--workers", str(workers)]
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(
                args, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ping", timeout=2).status_code == 200:
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mlflow models serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        answer = httpx.post(f"{self.url}/invocations", content=BODY, headers=JSON_CT, timeout=30)
        answer.raise_for_status()
        self.answer = answer.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def deploy(url: str, home: Path, name: str, deployment: Any) -> dict[str, Any]:
    """`name` with one deployment taking all the traffic: its scoring URI and key, and each
    ready scoring host's address with the header that lets the benchmark score there."""
    from forgeml import MLClient
    from forgeml.core.specs.endpoints import OnlineEndpoint

    with MLClient(url=url) as sdk:
        sdk.online_endpoints.begin_create_or_update(OnlineEndpoint(name=name)).result()
        poller = sdk.online_deployments.begin_create_or_update(deployment, all_traffic=True)
        poller.result(timeout=300)
        key = sdk.online_endpoints.get_keys(name).primary_key
        uri = sdk.online_endpoints.get(name).scoring_uri
    assert uri is not None
    auth = {**JSON_CT, "authorization": f"Bearer {key}"}
    answer = httpx.post(uri, content=BODY, headers=auth, timeout=30)
    answer.raise_for_status()
    # a host answers only its router, which shows it a per-instance secret: read the way the
    # router reads it, from this run's own workspace
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEML_")}
    found = subprocess.run(
        [sys.executable, "-c", HOSTS_PY, str(home), name, deployment.name],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    hosts = json.loads(found.stdout) if found.returncode == 0 else {}
    if found.returncode != 0:
        print(f"the scoring hosts' addresses are unknown:\n{found.stderr[-1500:]}", flush=True)
    return {"uri": uri, "headers": auth, "hosts": hosts, "answer": answer.json()}


def _direct(hosts: dict[str, dict[str, str]]) -> dict[str, Any]:
    address, admit = next(iter(hosts.items()))
    return {"name": "forgeml direct", "url": f"{address}/score", "headers": {**JSON_CT, **admit}}


def mlflow_deployment(name: str, model: Path, workers: int) -> Any:
    from forgeml.core.specs import Environment, Model
    from forgeml.core.specs.endpoints import OnlineDeployment

    return OnlineDeployment(
        name="sk",
        endpoint_name=name,
        model=Model(path=str(model), type="mlflow_model"),
        environment=Environment(image="python:3.11"),
        instance_count=workers,
    )


def noop_deployment(name: str, root: Path) -> Any:
    from forgeml.core.specs import Environment, Model
    from forgeml.core.specs.endpoints import CodeConfiguration, OnlineDeployment

    (root / "model").mkdir(parents=True, exist_ok=True)
    (root / "model" / "unused.txt").write_text("no model: run() answers a constant\n")
    (root / "code").mkdir(exist_ok=True)
    (root / "code" / "score.py").write_text(NOOP_SCORE_PY)
    return OnlineDeployment(
        name="noop",
        endpoint_name=name,
        model=Model(path=str(root / "model"), type="custom_model"),
        code_configuration=CodeConfiguration(code=str(root / "code"), scoring_script="score.py"),
        environment=Environment(image="python:3.11"),
    )


def delete_endpoint(url: str, name: str) -> None:
    from forgeml import MLClient

    with MLClient(url=url) as sdk, contextlib.suppress(Exception):
        sdk.online_endpoints.begin_delete(name).result(timeout=60)


# ------------------------------------------------------------------------------ load


def load(url: str, headers: dict[str, str], clients: int, seconds: float) -> dict[str, Any]:
    """One closed-loop run of `clients` kept-alive connections; rate, latency, generator CPU."""
    if WRK:
        script = SCRATCH / "load.lua"
        lines = "\n".join(
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()
        )
        script.write_text(WRK_LUA.format(body=json.dumps(BODY.decode()), headers=lines))
        # one wrk thread drives every connection: far faster than the servers, and it leaves
        # the other core to them
        args = [WRK, "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "30s"]
        args += ["-s", str(script), url]
    else:
        parts = httpx.URL(url)
        args = [sys.executable, "-c", LOADGEN_PY, parts.host, str(parts.port), parts.path]
        args += [str(clients), str(seconds), json.dumps(headers), BODY.decode()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not found:
        raise RuntimeError(f"the load generator failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    row: dict[str, Any] = json.loads(found[-1][len("RESULT ") :])
    took = row["duration_us"] / 1e6
    row["rps"] = row["requests"] / took
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row["generator_cpu_pct"] = 100 * cpu / took
    return row


def point(
    target: dict[str, Any], clients: int, args: argparse.Namespace, roots: dict[str, int]
) -> dict[str, Any]:
    """A warm-up run, then a timed one; plus the CPU each server process used meanwhile."""
    load(target["url"], target["headers"], clients, args.warmup)
    cpu0 = cpu_by_role(roots)
    t0 = time.monotonic()
    row = load(target["url"], target["headers"], clients, args.seconds)
    wall = time.monotonic() - t0
    for role, pids in cpu_by_role(roots).items():
        used = sum(cpu - cpu0.get(role, {}).get(pid, 0.0) for pid, cpu in pids.items())
        row[f"cpu_pct {role}"] = 100 * used / wall
        row[f"cpu_ms_per_req {role}"] = 1000 * used / max(row["requests"], 1)
    row.update(target=target["name"], clients=clients, load1=os.getloadavg()[0])
    print(json.dumps(row), flush=True)
    return row


def measure(
    targets: list[dict[str, Any]],
    clients_list: list[int],
    args: argparse.Namespace,
    roots: dict[str, int],
    **labels: Any,
) -> list[dict[str, Any]]:
    """Every target at every client count, `--reps` times, taking turns."""
    rows = []
    for rep in range(args.reps):
        for turn, clients in enumerate(clients_list):
            usable = [t for t in targets if clients <= t.get("max_clients", clients)]
            shift = (turn + rep) % len(usable)
            for target in usable[shift:] + usable[:shift]:
                row = point(target, clients, args, roots)
                row.update(rep=rep, **labels)
                rows.append(row)
    return rows


# ------------------------------------------------------------------------------ run


def versions() -> dict[str, str]:
    code = (
        "import json, sys, mlflow, sklearn, pandas, numpy, uvicorn; print(json.dumps({"
        "'python': sys.version.split()[0], 'mlflow': mlflow.__version__, "
        "'scikit-learn': sklearn.__version__, 'pandas': pandas.__version__, "
        "'numpy': numpy.__version__, 'uvicorn': uvicorn.__version__}))"
    )
    out: dict[str, str] = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    )
    if WRK:
        probe = subprocess.run([WRK, "-v"], capture_output=True, text=True)
        found = (probe.stdout or probe.stderr).split("Copyright")[0].strip()
        out["load generator"] = f"{found}, from Debian's package (`apt-get install wrk`)"
    else:
        out["load generator"] = "asyncio HTTP/1.1 generator (LOADGEN_PY in this script; no wrk)"
    return out


def run(args: argparse.Namespace, temp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"points": [], "micro": {}, "answers": {}}
    server = Server(home=temp / "home")
    server.start(LOGS / "forgeml-up.log")
    assert server.proc is not None
    try:
        for kind in args.models:
            model = temp / f"model-{kind}"
            subprocess.run(
                [sys.executable, "-c", SAVE_MODEL_PY, str(model), MODELS[kind]],
                check=True,
                capture_output=True,
                timeout=300,
                cwd=temp,
            )
            micro = subprocess.run(
                [sys.executable, "-c", MICRO_PY, str(model), BODY.decode()],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=temp,
            )
            if micro.returncode == 0:
                results["micro"][kind] = json.loads(micro.stdout.strip().splitlines()[-1])
            else:
                print(f"the per-call measurement failed:\n{micro.stderr[-2000:]}", flush=True)
            print(json.dumps({"micro": kind, **results["micro"].get(kind, {})}), flush=True)
            for workers in args.workers:
                name = f"bench-{kind}-w{workers}"
                mlflow = Mlflow(model, workers, LOGS / f"mlflow-{kind}-w{workers}.log")
                try:
                    forge = deploy(
                        server.url, server.home, name, mlflow_deployment(name, model, workers)
                    )
                    results["answers"][name] = {"forgeml": forge["answer"], "mlflow": mlflow.answer}
                    targets = [
                        {"name": "forgeml", "url": forge["uri"], "headers": forge["headers"]},
                        {"name": "mlflow", "url": f"{mlflow.url}/invocations", "headers": JSON_CT},
                    ]
                    if workers == 1 and forge["hosts"]:
                        # the host alone is compared at the client counts a router adds to
                        targets.append({**_direct(forge["hosts"]), "max_clients": 8})
                    roots = {"forgeml": server.proc.pid, "mlflow": mlflow.proc.pid}
                    results["points"] += measure(
                        targets, args.clients, args, roots, model=kind, workers=workers
                    )
                finally:
                    mlflow.stop()
                    delete_endpoint(server.url, name)
        if 1 in args.workers:
            name = "bench-noop"
            forge = deploy(server.url, server.home, name, noop_deployment(name, temp / "noop"))
            targets = [{"name": "forgeml", "url": forge["uri"], "headers": forge["headers"]}]
            if forge["hosts"]:
                targets.append(_direct(forge["hosts"]))
            clients = [c for c in args.clients if c <= 8]
            roots = {"forgeml": server.proc.pid}
            results["points"] += measure(targets, clients, args, roots, model=NOOP, workers=1)
            delete_endpoint(server.url, name)
    finally:
        server.stop()
    return results


# ------------------------------------------------------------------------------ report


def aggregate(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, workers, target, clients): the median of each number over reps."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in points:
        key = (row["model"], row["workers"], row["target"], row["clients"])
        groups.setdefault(key, []).append(row)
    out = []
    for rows in groups.values():
        merged = dict(rows[0])
        for field in rows[0]:
            values = [r[field] for r in rows if isinstance(r.get(field), int | float)]
            if field not in ("workers", "clients", "rep") and len(values) == len(rows):
                merged[field] = statistics.median(values)
        merged["reps"] = len(rows)
        out.append(merged)
    return out


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def _cpu(row: dict[str, Any], prefix: str, system: str) -> str:
    parts = [
        f"{key.split(' ', 2)[2]} {value:.2f}"
        if prefix == "cpu_ms_per_req"
        else f"{key.split(' ', 2)[2]} {value:.0f}"
        for key, value in row.items()
        if key.startswith(f"{prefix} {system} ")
        and (value >= 0.5 or prefix == "cpu_ms_per_req")
        and not (prefix == "cpu_ms_per_req" and value < 0.005)
    ]
    return ", ".join(parts) or "-"


def _server_ms(row: dict[str, Any], system: str) -> float:
    return float(sum(v for k, v in row.items() if k.startswith(f"cpu_ms_per_req {system} ")))


def _flags(args: argparse.Namespace) -> str:
    """The command line's non-default choices, as a user would type them."""
    flags = " --quick" if args.quick else ""
    if args.models != list(MODELS):
        flags += f" --models {','.join(args.models)}"
    for name, default in (("workers", [1, 2]), ("clients", [1, 8, 64])):
        if getattr(args, name) != default:
            flags += f" --{name} {','.join(map(str, getattr(args, name)))}"
    if not args.quick and (args.seconds, args.warmup) != (10.0, 2.0):
        flags += f" --seconds {args.seconds:g} --warmup {args.warmup:g}"
    return flags + (f" --reps {args.reps}" if args.reps != 1 else "")


def report(results: dict[str, Any], args: argparse.Namespace, info: dict[str, str]) -> str:
    rows = aggregate(results["points"])
    lines = [
        "# Online serving: forgeml's router vs `mlflow models serve` (benchmarks/serving.py)",
        "",
        f"Written by `python benchmarks/serving.py{_flags(args)}`: "
        f"{args.seconds:g} s per point after a {args.warmup:g} s warm-up, {args.reps} "
        "repetition(s) (the median of each figure is shown), closed loop (each client sends "
        "its next request when the answer arrives), one kept-alive connection per client, "
        f"loopback only. Body: one `dataframe_split` row of 8 doubles ({len(BODY)} bytes), the "
        "same for both servers.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "What runs: forgeml = one `forgeml up` (SQLite, fresh home), an online endpoint with one "
        "MLflow no-code deployment (`type: mlflow_model`) with **`environment: {image: "
        "python:3.11}`**, which runs the scoring host on the workspace's own Python, so both "
        "servers use the same mlflow, scikit-learn and pandas (an environment with a conda or pip "
        "file would be a separate uv virtualenv); `instance_count` = workers, the default "
        "`max_concurrent_requests_per_instance` (1); requests to `/endpoints/<name>/score` with "
        "the Bearer key. MLflow = `mlflow models serve -m <same folder> --env-manager local "
        "--workers N` (uvicorn; `--workers` defaults to 1). Both servers run throughout (the "
        "idle one costs little); within each client count the targets take turns. *CPU ms per "
        "request* = CPU time all of a server's processes used during the timed run / requests "
        "answered: unlike req/s it hardly depends on what else the machine is doing.",
        "",
    ]
    for kind in args.models:
        for workers in args.workers:
            mine = [r for r in rows if r["model"] == kind and r["workers"] == workers]
            if not mine:
                continue
            lines += [
                f"## {kind} (`{MODELS[kind]}`), {workers} worker(s)",
                "",
                "| clients | forgeml req/s | MLflow req/s | **forgeml / MLflow** | forgeml p50 / "
                "p99 ms | MLflow p50 / p99 ms | server CPU ms per request, forgeml / MLflow "
                "| forgeml / MLflow in each repetition | errors |",
                "|---:|---:|---:|---:|---:|---:|---:|---|---:|",
            ]
            for clients in args.clients:
                f = _find(mine, target="forgeml", clients=clients)
                m = _find(mine, target="mlflow", clients=clients)
                if f is None or m is None:
                    continue
                lines.append(
                    f"| {clients} | {f['rps']:.0f} | {m['rps']:.0f} | "
                    f"**{f['rps'] / m['rps']:.2f}x** | {_ms(f['p50_us'])} / {_ms(f['p99_us'])} | "
                    f"{_ms(m['p50_us'])} / {_ms(m['p99_us'])} | {_server_ms(f, 'forgeml'):.2f} / "
                    f"{_server_ms(m, 'mlflow'):.2f} | "
                    f"{_per_rep(results['points'], kind, workers, clients)} | "
                    f"{f['errors'] + f['non_2xx']}, "
                    f"{m['errors'] + m['non_2xx']} |"
                )
            lines.append("")
    lines += _cpu_table(rows, args)
    lines += _overhead(results, rows, args)
    lines += _targets(rows, args)
    return "\n".join(lines) + "\n"


def _per_rep(points: list[dict[str, Any]], kind: str, workers: int, clients: int) -> str:
    """forgeml's req/s over MLflow's, each repetition's pair on its own."""
    ratios = []
    for rep in sorted({p["rep"] for p in points}):
        mine = {"model": kind, "workers": workers, "clients": clients, "rep": rep}
        f = _find(points, target="forgeml", **mine)
        m = _find(points, target="mlflow", **mine)
        if f is not None and m is not None:
            ratios.append(f"{f['rps'] / m['rps']:.2f}")
    return ", ".join(ratios)


def _cpu_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines = [
        "## CPU during the timed runs",
        "",
        f"The machine has {os.cpu_count()} cores, shared by the servers, their workers, the load "
        "generator and anything else running. % = of one core over the timed run; ms = CPU "
        "milliseconds per request answered. forgeml's processes: the router (`forgeml up`, "
        "which also runs the API and scheduler), the serving workers (supervisors) and the "
        "scoring hosts; MLflow's: all of `mlflow models serve` (the CLI and uvicorn).",
        "",
        "| model | workers | clients | target | req/s | load generator | load avg (1 min) "
        "| the target's processes, % of a core | CPU ms per request |",
        "|---|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        system = "mlflow" if row["target"] == "mlflow" else "forgeml"
        lines.append(
            f"| {row['model']} | {row['workers']} | {row['clients']} | {row['target']} | "
            f"{row['rps']:.0f} | {row['generator_cpu_pct']:.0f}% | {row['load1']:.1f} | "
            f"{_cpu(row, 'cpu_pct', system)} | {_cpu(row, 'cpu_ms_per_req', system)} |"
        )
    return [*lines, ""]


def _overhead(
    results: dict[str, Any], rows: list[dict[str, Any]], args: argparse.Namespace
) -> list[str]:
    lines = [
        "## Router overhead and where the time goes (1 worker)",
        "",
        "Direct = the same load sent to the deployment's scoring host itself, with the "
        "per-instance key the router would add (both read from the run's workspace as the router "
        "reads them), without endpoint key check or router. Overhead = router p50 - direct p50 "
        f"(target under 1 ms). *{NOOP}*: a custom deployment whose `run()` returns a constant, "
        "so the host does almost nothing and the difference is the router's.",
        "",
        "| model | clients | router req/s | direct req/s | router p50 ms | direct p50 ms "
        "| **overhead p50 ms** | router p99 ms | direct p99 ms | router CPU ms/request |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in [*args.models, NOOP]:
        for clients in args.clients:
            r = _find(rows, model=kind, workers=1, target="forgeml", clients=clients)
            d = _find(rows, model=kind, workers=1, target="forgeml direct", clients=clients)
            if r is None or d is None:
                continue
            lines.append(
                f"| {kind} | {clients} | {r['rps']:.0f} | {d['rps']:.0f} | {_ms(r['p50_us'])} | "
                f"{_ms(d['p50_us'])} | **{_ms(r['p50_us'] - d['p50_us'])}** | "
                f"{_ms(r['p99_us'])} | {_ms(d['p99_us'])} | "
                f"{r.get('cpu_ms_per_req forgeml router (forgeml up)', 0):.2f} |"
            )
    micro = results["micro"]
    lines += [
        "",
        "Per call without HTTP, one process, on the benchmark's body (median of 7 x 200 calls; "
        "wall / CPU microseconds): the model alone, MLflow's pyfunc wrapper (adds schema "
        "enforcement), forgeml's scorer (JSON parse, DataFrame, pyfunc predict, JSON dump) and "
        "MLflow's `invocations()` (its parse with the schema, pyfunc predict, JSON dump).",
        "",
        "| step | " + " | ".join(micro) + " |",
        "|---|" + "---:|" * len(micro),
    ]
    names: list[str] = []
    for cases in micro.values():
        names += [n for n in cases if n not in names]
    for name in names:
        cells = [
            f"{c[name]['wall_us']:.0f} / {c[name]['cpu_us']:.0f}" if name in c else "-"
            for c in micro.values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Where the CPU goes, per request (CPU ms; at 1 worker, from the timed runs through "
        "the router and the per-call figures above): forgeml's scorer, the rest of the scoring "
        "host (its HTTP server: host CPU per request - scorer), the router (`forgeml up`); "
        "MLflow's `invocations()` and the rest of `mlflow models serve` (uvicorn, FastAPI, its "
        "middleware). CPU rather than wall time, because on a shared machine waiting for a core "
        "swamps the differences in wall time.",
        "",
        "| model | clients | forgeml: scorer | host HTTP | router | **total** | MLflow: "
        "invocations() | uvicorn + FastAPI | **total** |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in args.models:
        cases = micro.get(kind, {})
        for clients in args.clients:
            f = _find(rows, model=kind, workers=1, target="forgeml", clients=clients)
            m = _find(rows, model=kind, workers=1, target="mlflow", clients=clients)
            if f is None or m is None or not cases:
                continue
            score = cases["forgeml scorer.score(body)"]["cpu_us"] / 1000
            invoc = cases["mlflow invocations(body)"]["cpu_us"] / 1000
            host = f.get("cpu_ms_per_req forgeml hosts", 0.0)
            router = f.get("cpu_ms_per_req forgeml router (forgeml up)", 0.0)
            total = _server_ms(m, "mlflow")
            lines.append(
                f"| {kind} | {clients} | {score:.2f} | {host - score:.2f} | {router:.2f} | "
                f"**{_server_ms(f, 'forgeml'):.2f}** | {invoc:.2f} | {total - invoc:.2f} | "
                f"**{total:.2f}** |"
            )
    return [*lines, ""]


def _targets(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines = [
        "## Targets",
        "",
        "forgeml at least 2x MLflow's throughput with a lower p99; router overhead under 1 ms at "
        "p50.",
        "",
    ]
    for kind in args.models:
        for workers in args.workers:
            for clients in args.clients:
                f = _find(rows, model=kind, workers=workers, target="forgeml", clients=clients)
                m = _find(rows, model=kind, workers=workers, target="mlflow", clients=clients)
                if f is None or m is None:
                    continue
                ratio = f["rps"] / m["rps"]
                lower = f["p99_us"] < m["p99_us"]
                lines.append(
                    f"- {kind}, {workers} worker(s), {clients} client(s): {ratio:.2f}x MLflow's "
                    f"throughput, p99 {_ms(f['p99_us'])} vs {_ms(m['p99_us'])} ms: "
                    + ("met" if ratio >= 2 and lower else "**not met**")
                )
    for kind in [*args.models, NOOP]:
        for clients in args.clients:
            r = _find(rows, model=kind, workers=1, target="forgeml", clients=clients)
            d = _find(rows, model=kind, workers=1, target="forgeml direct", clients=clients)
            if r is None or d is None:
                continue
            over = (r["p50_us"] - d["p50_us"]) / 1000
            lines.append(
                f"- router overhead, {kind}, {clients} client(s): {over:.2f} ms at p50: "
                + ("met" if over < 1 else "**not met**")
            )
    return [*lines, ""]


def write(text: str, out: Path) -> None:
    mark = "<!-- reading"
    if out.exists() and mark in (old := out.read_text(encoding="utf-8")):
        text += "\n" + old[old.index(mark) :]
    out.write_text(text, encoding="utf-8")
    if out != HERE / "RESULTS-serving.md":
        return
    combined = HERE / "RESULTS.md"
    current = combined.read_text(encoding="utf-8") if combined.exists() else ""
    head = "# Online serving: forgeml's router vs `mlflow models serve`"
    section = text.replace(
        "\n\nWritten by",
        "\n\n_Also written on its own to benchmarks/RESULTS-serving.md by its script; copied "
        "here so this file holds every result._\n\nWritten by",
        1,
    )
    if head in current:
        start = current.index(head)
        end = current.find("\n# ", start + len(head))
        rest = current[end + 1 :] if end >= 0 else ""
        current = current[:start].rstrip() + "\n\n" + section.rstrip() + "\n"
        current += ("\n" + rest) if rest else ""
    else:
        current = current.rstrip() + "\n\n" + section
    combined.write_text(current, encoding="utf-8")


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main() -> int:
    global WRK, SCRATCH
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per point, 1 s warm-up")
    parser.add_argument("--models", default="logreg,forest", help="of: " + ", ".join(MODELS))
    parser.add_argument("--workers", type=_ints, default=[1, 2], help="e.g. 1,2")
    parser.add_argument("--clients", type=_ints, default=[1, 8, 64], help="e.g. 1,8,64")
    parser.add_argument("--seconds", type=float, default=10.0, help="per timed run")
    parser.add_argument("--warmup", type=float, default=2.0, help="per point, before it")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of every point")
    parser.add_argument("--no-wrk", action="store_true", help="use the asyncio generator")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-serving.md")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the results from the last run's JSON"
    )
    args = parser.parse_args()
    raw = WORK / "serving-last-results.json"
    if args.report_only:
        results = json.loads(raw.read_text())
        vars(args).update(results["args"])
        write(report(results, args, results["info"]), args.out)
        return 0
    if args.no_wrk:
        WRK = None
    args.models = [m for m in args.models.split(",") if m]
    if unknown := set(args.models) - set(MODELS):
        parser.error(f"unknown model(s) {sorted(unknown)}; known: {sorted(MODELS)}")
    if args.quick:
        args.seconds, args.warmup = 3.0, 1.0
    LOGS.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix="forgeml-bench-serving-"))
    SCRATCH = temp
    # a SIGTERM must still run the clean-up below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    try:
        info = {**machine(), **versions()}
        info["load"] += " (1/5/15 min, at the start)"
        results = run(args, temp)
    finally:
        kill_marked(str(temp))
        shutil.rmtree(temp, ignore_errors=True)
    info["total run time"] = f"{time.monotonic() - started:.0f} s"
    load = os.getloadavg()
    info["load at the end"] = f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
    results["info"] = info
    keep = ("quick", "models", "workers", "clients", "seconds", "warmup", "reps")
    results["args"] = {k: getattr(args, k) for k in keep}
    raw.write_text(json.dumps(results, indent=2))
    text = report(results, args, info)
    write(text, args.out)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
