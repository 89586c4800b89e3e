"""The docker runtime on a real engine: one sandboxed container per session, its recovery, its lifecycle.

These need an engine and the runner image named by ``INBOX_TEST_RUNNER_IMAGE`` (``.ci/run`` builds it offline).
Without them the tests are skipped with the reason, except under CI, where a missing engine is a failure.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_runner.protocol import PROTOCOL_VERSION, VERSION_HEADER
from scripts.fake_provider.server import ScriptedReply
from sweeper.runtimes.containers import LABEL
from tests.acceptance.served import Served, serving

pytestmark = [pytest.mark.slow, pytest.mark.container]
IMAGE = os.environ.get("INBOX_TEST_RUNNER_IMAGE", "inbox-runner:latest")


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
        client.images.get(IMAGE)
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"container tests must run in CI: engine or image {IMAGE} unavailable: {exc}")
        pytest.skip(f"no container engine or no image {IMAGE} ({type(exc).__name__}); .ci/run builds it")
    yield client
    client.close()


@pytest.fixture
def boxed(engine: Any, home: Path) -> Iterator[Served]:
    with serving(home, None) as served:
        served.env.update(
            INBOX_RUNTIME="docker", INBOX_RUNNER_IMAGE=IMAGE, INBOX_CONTAINER_MEMORY="160m", INBOX_RUNNER_IDLE="30"
        )
        yield served
        served.stop_hosts()
        for container in engine.containers.list(all=True, filters={"label": LABEL}):
            if container.labels.get("org.inbox.host", "").endswith(tuple(f"-{h.pid}" for h in served.hosts)):
                container.remove(force=True)


def _containers(engine: Any, host_pid: int) -> list[Any]:
    found = engine.containers.list(filters={"label": LABEL})
    return [c for c in found if c.labels.get("org.inbox.host", "").endswith(f"-{host_pid}")]


def _reminder_data(served: Served, ident: str) -> dict[str, Any]:
    """The JSON data a script-gated reminder appended to its text in the outbox."""
    out = served.wait_for("the reminder", lambda: [o for o in served.inbox.outbox() if o.in_reply_to == ident])
    text = out[0].text
    return dict(json.loads(text.split("\n", 1)[1]))


def test_a_cold_session_starts_a_container_and_a_warm_one_is_reused(boxed: Served, engine: Any) -> None:
    host = boxed.start_host()
    first = boxed.inbox.send("hello")
    boxed.wait_for("the first answer", lambda: boxed.inbox.outbox())
    [container] = _containers(engine, host.pid)
    boxed.inbox.send("again")
    boxed.wait_for("the second answer", lambda: len(boxed.inbox.outbox()) == 2)
    assert [c.id for c in _containers(engine, host.pid)] == [container.id]  # the warm container took it
    assert boxed.inbox.outbox()[-1].in_reply_to != first.id


def test_the_socket_is_reachable_by_the_containers_and_no_other_user(boxed: Served) -> None:
    host = boxed.start_host()
    boxed.inbox.send("hello")
    boxed.wait_for("an answer through the socket", lambda: boxed.inbox.outbox())
    folder = boxed.home / "run"
    for path, mode in ((folder / f"host-{host.pid}.sock", 0o660), (folder, 0o710)):
        found = os.stat(path)
        assert (stat.S_IMODE(found.st_mode), found.st_uid) == (mode, os.geteuid()), path
        assert found.st_gid == (10001 if os.geteuid() == 0 else os.getegid()), path


SANDBOX_PROBE = """
uid=$(id -u)
nets=$(ls /sys/class/net | tr '\\n' ' ')
if touch /etc/probe 2>/dev/null; then etc=yes; else etc=no; fi
if touch /usr/probe 2>/dev/null; then usr=yes; else usr=no; fi
if echo x > /workspace/probe; then ws=yes; else ws=no; fi
if echo x > /tmp/probe; then tmp=yes; else tmp=no; fi
net=$(python3 -c '
import socket
try:
    socket.create_connection(("192.0.2.1", 9), timeout=2)
    print("connected")
except OSError as error:
    print(type(error).__name__)
')
key=$(env | grep -c API_KEY)
echo "{\\"wakeAgent\\": true, \\"data\\": {\\"uid\\": \\"$uid\\", \\"nets\\": \\"$nets\\", \\"etc\\": \\"$etc\\", \
\\"usr\\": \\"$usr\\", \\"workspace\\": \\"$ws\\", \\"tmp\\": \\"$tmp\\", \\"net\\": \\"$net\\", \\"keys\\": $key}}"
"""


def test_the_container_is_a_sandbox(boxed: Served) -> None:
    made = boxed.inbox.schedule("sandbox facts", in_="1s", remind=True, script=SANDBOX_PROBE)
    boxed.start_host()
    facts = _reminder_data(boxed, made.id)
    assert facts["uid"] != "0"  # not root
    assert facts["nets"].split() == ["lo"]  # no network but loopback
    assert facts["net"] != "connected"
    assert (facts["etc"], facts["usr"]) == ("no", "no")  # read-only root filesystem
    assert (facts["workspace"], facts["tmp"]) == ("yes", "yes")
    assert facts["keys"] == 0  # no credentials inside


def _runner_env(engine: Any, host_pid: int) -> dict[str, str]:
    """What the host put in its runner container's environment, as the engine reports it."""
    [container] = _containers(engine, host_pid)
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def _cross_session_probe(other_id: str, socket_path: str, token: str) -> str:
    return f"""#!/usr/bin/env python3
import json, socket

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    s = socket.socket(socket.AF_UNIX)
    s.connect("{socket_path}")
    auth = "Authorization: Bearer {token}\\r\\n{VERSION_HEADER}: {PROTOCOL_VERSION}"
    head = (f"{{method}} {{path}} HTTP/1.1\\r\\nHost: host\\r\\n{{auth}}\\r\\n"
            f"Content-Type: application/json\\r\\nContent-Length: {{len(data)}}\\r\\nConnection: close\\r\\n\\r\\n")
    s.sendall(head.encode() + data)
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    return int(answer.split(b" ")[1])

result = {{"id": "{other_id}", "attempt": 1, "outcome": "completed", "started_at": "2026-01-01T00:00:00Z"}}
print(json.dumps({{"wakeAgent": True, "data": {{
    "report_other": call("POST", "/runner/v1/results", result),
    "list_tasks": call("GET", "/v1/tasks?session=other"),
}}}}))
"""


def test_a_container_cannot_reach_another_sessions_messages(boxed: Served, engine: Any) -> None:
    other = boxed.inbox.send("private to another session", session="other", in_="1h")
    host = boxed.start_host("--listen", "127.0.0.1:0")  # the public API on, so the runners' socket serves it too
    boxed.inbox.send("wake the session's container")
    boxed.wait_for("the first answer", lambda: boxed.inbox.outbox())
    env = _runner_env(engine, host.pid)  # scripts cannot read it: given to this one as if it had leaked
    probe = _cross_session_probe(other.id, env["INBOX_RUNNER_SOCKET"], env["INBOX_RUNNER_TOKEN"])
    made = boxed.inbox.schedule("cross-session probe", in_="1s", remind=True, script=probe)
    facts = _reminder_data(boxed, made.id)
    assert facts == {"report_other": 403, "list_tasks": 403}


def test_a_script_past_the_memory_limit_fails_with_oom_and_the_series_continues(boxed: Served) -> None:
    hog = "set -e\npython3 -c \"x = b'x' * (400 * 1024 * 1024)\"\necho '{\"wakeAgent\": true}'"
    made = boxed.inbox.schedule("memory hog", every="2s", remind=True, script=hog)
    boxed.start_host()
    runs = boxed.wait_for_runs(made.series_id, 2, timeout_s=40)
    assert [r.outcome for r in runs[:2]] == ["failed", "failed"], runs[0].error  # the next occurrence still runs
    assert "oom" in (runs[0].error or ""), runs[0].error
    assert [r.attempt for r in runs[:2]] == [1, 1]  # at the limit it would fail again: not retried


def test_killing_the_container_mid_run_leads_to_a_retry(boxed: Served, engine: Any) -> None:
    boxed.fake.slow(5.0, "never delivered")
    made = boxed.inbox.schedule("long job", in_="1s")
    host = boxed.start_host()
    boxed.wait_for("the model call", lambda: boxed.fake.requests)
    [container] = _containers(engine, host.pid)
    container.kill()
    runs = boxed.wait_for_runs(made.series_id, 2, timeout_s=40)
    assert [(r.outcome, r.attempt) for r in runs] == [("interrupted", 1), ("completed", 2)]
    assert "exited 137" in (runs[0].error or "")


def test_idle_containers_stop(boxed: Served, engine: Any) -> None:
    host = boxed.start_host(INBOX_RUNNER_IDLE="2")
    boxed.inbox.send("hello")
    boxed.wait_for("an answer", lambda: boxed.inbox.outbox())
    boxed.wait_for("the idle container to stop", lambda: not _containers(engine, host.pid), timeout_s=20)


def test_orphans_of_a_dead_host_are_removed_at_start(boxed: Served, engine: Any) -> None:
    dead_host = f"{socket.gethostname()[:40]}-{2**22 + 12345}"  # no such pid
    orphan = engine.containers.create(IMAGE, labels={LABEL: "1", "org.inbox.host": dead_host})
    boxed.start_host()
    boxed.wait_for("the orphan's removal", lambda: orphan.id not in [c.id for c in engine.containers.list(all=True)])


def test_a_hung_container_is_stopped_and_its_work_retried(boxed: Served, engine: Any) -> None:
    boxed.fake.slow(3.0, "never delivered")
    made = boxed.inbox.schedule("job that hangs", in_="1s")
    host = boxed.start_host()
    boxed.wait_for("the model call", lambda: boxed.fake.requests)
    [container] = _containers(engine, host.pid)
    container.pause()  # alive but silent: no heartbeat
    runs = boxed.wait_for_runs(made.series_id, 2, timeout_s=40)
    assert [(r.outcome, r.attempt) for r in runs] == [("interrupted", 1), ("completed", 2)]
    assert "no heartbeat" in (runs[0].error or "")
    assert container.id not in [c.id for c in engine.containers.list(all=True)]


def test_a_busy_session_cannot_starve_another_when_the_pool_is_full(boxed: Served, engine: Any) -> None:
    boxed.fake.respond_with(lambda _: ScriptedReply("busy", delay_s=0.5))
    boxed.inbox.schedule("always more work", every="1s", session="busy")
    host = boxed.start_host(INBOX_CONTAINER_POOL="1")
    boxed.wait_for("the busy session to run", lambda: boxed.inbox.outbox(session="busy"))
    asked = boxed.inbox.send("my turn?", session="quiet")
    counts: list[int] = []

    def answered() -> bool:
        counts.append(len(_containers(engine, host.pid)))
        return any(o.in_reply_to == asked.id for o in boxed.inbox.outbox(session="quiet"))

    boxed.wait_for("the quiet session's answer", answered, timeout_s=40)
    assert max(counts) <= 1  # never more containers than the pool


def test_in_a_container_the_model_gets_a_shell_and_files_under_the_workspace(boxed: Served) -> None:
    boxed.fake.reply(
        "",
        tool_calls=[
            ("write_file", {"path": "notes.txt", "content": "kept in the workspace"}),
            ("bash", {"command": "cat notes.txt; id -u; touch /etc/nope || echo no-write"}),
            ("read_file", {"path": "../etc/passwd"}),
        ],
    )
    boxed.fake.reply("All done.")
    boxed.start_host()
    boxed.inbox.send("take a note")
    boxed.wait_for("the answer", lambda: boxed.inbox.outbox())
    offered = {tool["function"]["name"] for tool in boxed.fake.requests[0].json["tools"]}
    assert {"bash", "read_file", "write_file", "schedule_task"} <= offered
    results = json.dumps(boxed.fake.requests[1].json["messages"])
    assert "kept in the workspace" in results and "10001" in results and "no-write" in results
    assert "outside /workspace" in results  # read_file refuses paths that leave the workspace


# The token is handed over base64-encoded, so the command itself never holds it: any copy in the results leaked.
TOKEN_HUNT = r"""
T=$(printf %s '{encoded}' | base64 -d)
echo "== env"; env
echo "== every environ"; cat /proc/*/environ | tr '\0' '\n'
echo "== runner environ"; cat /proc/1/environ | tr '\0' '\n'
echo "== files"; grep -rsaoF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -f <(printf '%s\n' "$T") / | head -5
echo "== memory"
python3 - '{encoded}' <<'PY'
import base64, sys
token = base64.b64decode(sys.argv[1])
try:
    regions = [line.split()[:2] for line in open("/proc/1/maps")]
    with open("/proc/1/mem", "rb", 0) as mem:
        for span, perms in regions:
            low, high = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(low)
                chunk = mem.read(high - low)
            except OSError:
                continue
            if token in chunk:
                print("found in memory:", token.decode())
                break
    print("memory read")
except OSError as error:
    print("memory refused:", error)
PY
echo "== end"
"""


def test_the_models_shell_cannot_find_the_runners_token(boxed: Served, engine: Any) -> None:
    found: dict[str, str] = {}
    host_pids: list[int] = []

    def model(request: Any) -> ScriptedReply:
        if found:
            return ScriptedReply("Nothing found.")
        found["token"] = _runner_env(engine, host_pids[0])["INBOX_RUNNER_TOKEN"]
        encoded = base64.b64encode(found["token"].encode()).decode()
        hunt = TOKEN_HUNT.format(encoded=encoded)
        return ScriptedReply("", tool_calls=(("bash", {"command": hunt, "timeout_s": 120}),))

    boxed.fake.respond_with(model)
    host_pids.append(boxed.start_host().pid)
    boxed.inbox.send("find the runner's token")
    boxed.wait_for("the answer", lambda: boxed.inbox.outbox(), timeout_s=180)
    messages = boxed.fake.requests[1].json["messages"]
    results = "".join(m["content"] for m in messages if m["role"] == "tool")  # not the command the model sent
    assert "== end" in results and "== files" in results  # the hunt ran to its end
    assert "memory refused" in results  # the runner's memory is closed to the shell
    assert found["token"] not in results
    assert "INBOX_RUNNER_TOKEN" not in results


ENVIRON_PROBE = """#!/usr/bin/env python3
import glob, json, os
seen = {"env": dict(os.environ)}
for path in glob.glob("/proc/[0-9]*/environ"):
    try:
        seen[path] = open(path, "rb").read().decode(errors="replace")
    except OSError as error:
        seen[path] = str(error)
print(json.dumps({"wakeAgent": True, "data": seen}))
"""


def test_a_prescript_cannot_read_the_runners_token(boxed: Served, engine: Any) -> None:
    host = boxed.start_host()
    boxed.inbox.send("wake the session's container")
    boxed.wait_for("the first answer", lambda: boxed.inbox.outbox())
    token = _runner_env(engine, host.pid)["INBOX_RUNNER_TOKEN"]
    made = boxed.inbox.schedule("environment probe", in_="1s", remind=True, script=ENVIRON_PROBE)
    seen = _reminder_data(boxed, made.id)
    assert "Permission denied" in seen["/proc/1/environ"]  # the runner's own environment is closed
    assert token not in json.dumps(seen)
    assert "INBOX_RUNNER_TOKEN" not in json.dumps(seen)


def test_a_cron_pass_chooses_the_docker_runtime_and_leaves_no_container(boxed: Served, engine: Any) -> None:
    boxed.fake.reply("answered in a box")
    sent = boxed.inbox.send("hello from cron")
    env = {k: v for k, v in boxed.env.items() if k != "INBOX_RUNTIME"}  # the image exists: docker is the default
    cron_pass = subprocess.Popen(
        ["inbox", "sweep", "--once", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    out, err = cron_pass.communicate(timeout=120)
    assert cron_pass.returncode == 0, err
    assert json.loads(out)["outcomes"] == {"completed": 1}
    assert [(o.in_reply_to, o.text) for o in boxed.inbox.outbox()] == [(sent.id, "answered in a box")]
    left = engine.containers.list(all=True, filters={"label": LABEL})
    assert [c for c in left if c.labels.get("org.inbox.host", "").endswith(f"-{cron_pass.pid}")] == []
