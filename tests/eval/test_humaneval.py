"""test_humaneval.py — `bone eval humaneval` end to end.
1. The 164 canonical solutions pass 164/164 (--canonical, parallel workers), --json line.
2. pass@k: a sample file with known per-task counts; the printed pass@1/pass@k equal the unbiased
   estimator computed here independently (math.comb), e.g. the README's n=10, c=3 examples.
3. Hostile completions (each written so that, were it NOT contained, it would go on to the
   canonical body and PASS): infinite loop, fork bomb, memory hog, writing outside the temporary
   directory (into this test's work dir, a new file beside it, /tmp), a TCP connect to a
   listener of this test, os.kill of the parent / of every `bone` process found in /proc,
   sys.exit(0), os._exit(0). Each must be reported as failed, the listener must see no
   connection, the files must be untouched, no program process may be left, the temporary
   directories must be gone, the evaluator must exit 0 and write its --out, and a canonical
   completion after the hostile ones must still pass.
Usage: test_humaneval.py BONE SOURCE_DIR WORKDIR"""
import atexit
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

BONE, SRC, WORK = sys.argv[1:4]
DATA = os.path.join(SRC, "data", "humaneval", "HumanEval.jsonl")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chmod(WORK, 0o755)
failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


tasks = [json.loads(l) for l in open(DATA)]


def bone(args, env=None):
    return subprocess.run([BONE, "eval", "humaneval", "--data", DATA] + args, capture_output=True, text=True,
                          env=env, timeout=600)


def last_json(p):
    return json.loads(p.stdout.strip().split("\n")[-1])


# ---- 1. canonical solutions ----
p = bone(["--canonical", "--workers", "4", "--json", "--quiet"])
if p.returncode != 0:
    fail("canonical: exit %d %s" % (p.returncode, p.stderr))
else:
    j = last_json(p)
    if j["samples"] != 164 or j["passed"] != 164 or j["pass@1"] != 1:
        fail("canonical: %s" % {k: j[k] for k in ("samples", "passed", "pass@1")})
    print("canonical: %d/%d; containment: %s" % (j["passed"], j["samples"], j["containment"]))
    containment = j["containment"]
if "containment" not in dir():
    sys.exit(1)

# ---- 2. pass@k against the unbiased estimator ----


def pass_at_k(n, c, k):
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


wrong = "    return None\n"
counts = {0: 3, 1: 0, 2: 10}  # correct samples out of 10 for tasks 0..2
rows = []
for t, c in counts.items():
    for s in range(10):
        rows.append({"task_id": tasks[t]["task_id"], "completion": tasks[t]["canonical_solution"] if s < c else wrong})
sp = os.path.join(WORK, "passk.jsonl")
with open(sp, "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in rows))
p = bone(["--samples", sp, "--k", "1,5,10", "--json", "--quiet", "--timeout", "20"])
if p.returncode != 0:
    fail("pass@k: exit %d %s" % (p.returncode, p.stderr))
else:
    j = last_json(p)
    for k in (1, 5, 10):
        want = sum(pass_at_k(10, c, k) for c in counts.values()) / 3
        if abs(j["pass@%d" % k] - want) > 1e-9:
            fail("pass@%d = %s, want %s" % (k, j["pass@%d" % k], want))
    if j["passed"] != 13:
        fail("passed %s, want 13" % j["passed"])
    if abs(pass_at_k(10, 3, 5) - 0.9166666666666666) > 1e-12:
        fail("the README's example n=10 c=3 pass@5")

# ---- 3. hostile completions ----
canary = os.path.join(WORK, "canary.txt")
with open(canary, "w") as f:
    f.write("original\n")
os.chmod(canary, 0o666)  # even a world-writable file of ours must not be written (Landlock), when Landlock is there
newfile = os.path.join(WORK, "created-by-completion.txt")
tmpfile = "/tmp/bone-humaneval-escape-%d.txt" % os.getpid()
# the programs run as nobody when this runs as root: their temporary root must be reachable by
# others all the way up, which WORK need not be (CI's clone lives in a 0700 mktemp folder)
tmpdir = tempfile.mkdtemp(prefix="bone-humaneval-test-", dir="/tmp")
os.chmod(tmpdir, 0o755)
atexit.register(shutil.rmtree, tmpdir, True)

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
port = srv.getsockname()[1]
connections = []


def accept():
    srv.settimeout(0.5)
    while not stop.is_set():
        try:
            c, _ = srv.accept()
            connections.append(c)
        except OSError:
            pass


stop = threading.Event()
th = threading.Thread(target=accept)
th.start()

t0 = tasks[0]
body = t0["canonical_solution"]


def ind(code):
    return "".join("    " + l + "\n" for l in code.strip("\n").split("\n"))


hostile = {
    "infinite loop": ind("while True:\n    pass") + body,
    "fork bomb": ind("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass") + body,
    "memory hog": ind("x = []\nwhile True:\n    x.append(bytearray(64 << 20))") + body,
    "write the evaluator's file": ind("open(%r, 'w').write('pwned')" % canary) + body,
    "create a file beside it": ind("open(%r, 'w').write('pwned')" % newfile) + body,
    "write /tmp": ind("open(%r, 'w').write('pwned')" % tmpfile) + body,
    "network connect": ind("import socket\nsocket.create_connection(('127.0.0.1', %d), timeout=2).sendall(b'hi')" % port)
    + body,
    "kill the parent": ind("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)") + body,
    "kill every bone in /proc": ind(
        "import os, signal\n"
        "for p in os.listdir('/proc'):\n"
        "    if p.isdigit():\n"
        "        try:\n"
        "            a0 = open('/proc/%s/cmdline' % p, 'rb').read().split(b'\\0')[0]\n"
        "            if a0.endswith(b'/bone') or a0 == b'bone':\n"
        "                os.kill(int(p), signal.SIGKILL)\n"
        "        except OSError:\n"
        "            pass\n"
        "raise SystemExit(1) if False else None") + body,
    "sys.exit(0)": ind("import sys\nsys.exit(0)"),
    "os._exit(0)": ind("import os\nos._exit(0)"),
}
# the /proc killer must not be able to pass by having killed nothing: it does not reach the body
# only if containment fails, so it fails by an extra assert that needs its kill to have raised
hostile["kill every bone in /proc"] = ind(
    "import os, signal\n"
    "killed = 0\n"
    "for p in os.listdir('/proc'):\n"
    "    if p.isdigit():\n"
    "        try:\n"
    "            a0 = open('/proc/%s/cmdline' % p, 'rb').read().split(b'\\0')[0]\n"
    "            if a0.endswith(b'/bone') or a0 == b'bone':\n"
    "                os.kill(int(p), signal.SIGKILL)\n"
    "                killed += 1\n"
    "        except OSError:\n"
    "            pass\n"
    "assert killed > 0") + body
# what the kernel did not allow is reported by the evaluator ("NOT isolated", "NO Landlock");
# those cases are then skipped here, by name, instead of failing on a machine that cannot
have_landlock = "(Landlock)" in containment
have_net = "network: isolated" in containment or "TCP blocked by Landlock" in containment
have_pidns = "PID namespace (all" in containment
skip = []
if not have_landlock:
    skip += ["write /tmp"]  # world-writable: only Landlock stops it
    os.chmod(canary, 0o644)
if not have_net:
    skip += ["network connect"]
if not have_pidns and "dropped to nobody" not in containment:
    skip += ["kill the parent", "kill every bone in /proc"]  # same uid, same PID namespace
for n in skip:
    print("SKIP %s: not containable here (containment: %s)" % (n, containment))
    del hostile[n]
names = list(hostile)
rows = [{"task_id": t0["task_id"], "completion": hostile[n]} for n in names]
rows.append({"task_id": t0["task_id"], "completion": body})  # the evaluator goes on
hp = os.path.join(WORK, "hostile.jsonl")
with open(hp, "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in rows))
out = os.path.join(WORK, "hostile-out.jsonl")
if os.geteuid() == 0:
    # as root: a temporary root nobody cannot reach is refused up front, naming the folder
    closed = tempfile.mkdtemp(prefix="bone-humaneval-closed-", dir="/tmp")  # 0700
    inner = os.path.join(closed, "inner")
    os.makedirs(inner)
    atexit.register(shutil.rmtree, closed, True)
    p = bone(["--samples", hp, "--workers", "1", "--quiet"], env=dict(os.environ, TMPDIR=inner))
    if p.returncode == 0 or "not searchable by others" not in p.stderr or closed not in p.stderr:
        fail("unreachable TMPDIR: want a refusal naming %s, got exit %d: %s" % (closed, p.returncode, p.stderr[-300:]))
    else:
        print("ok unreachable TMPDIR refused: %s" % p.stderr.strip().splitlines()[-1][:160])
env = dict(os.environ, TMPDIR=tmpdir)
p = bone(["--samples", hp, "--workers", "1", "--timeout", "3", "--out", out, "--json", "--quiet"], env=env)
stop.set()
th.join()
if p.returncode != 0:
    fail("hostile: the evaluator exited %d: %s" % (p.returncode, p.stderr[-500:]))
elif not os.path.exists(out):
    fail("hostile: the evaluator's --out is missing")
else:
    res = [json.loads(l) for l in open(out)]
    for n, r in zip(names, res):
        print("  %-28s -> %s" % (n, r["result"]))
        if r["passed"]:
            fail("hostile %r was not contained: it passed" % n)
    if not res[-1]["passed"]:
        fail("the canonical completion after the hostile ones failed: %s" % res[-1])
    j = last_json(p)
    if j["passed"] != 1 or j["samples"] != len(rows):
        fail("hostile --json: %s" % j)
with open(canary) as f:
    if f.read() != "original\n":
        fail("the canary file was written")
for f in (newfile, tmpfile):
    if os.path.exists(f):
        fail("%s was created by a completion" % f)
        os.unlink(f)
if connections:
    fail("the listener got %d connection(s)" % len(connections))
if os.listdir(tmpdir):
    fail("temporary directories left: %s" % os.listdir(tmpdir))
left = subprocess.run(["pgrep", "-f", "program.py"], capture_output=True, text=True).stdout.split()
if left:
    fail("program processes left running: %s" % left)
if failures:
    sys.exit(1)
print("OK")
