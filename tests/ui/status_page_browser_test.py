#!/usr/bin/env python3
"""The web status page in a real headless Chromium (Debian's `chromium`).

A real metalpxed runs in a network namespace this test creates (a bridge
with the appliance on it and one "machine" namespace on a veth, with the
MAC of the inventory machine cp-1, the control plane of cluster "prod",
made by tests/support/talos-gen-config.sh). The test:

  1. checks the login over plain HTTP first: the page and the API refuse
     without a session, a wrong password gets 401 and then 429 (one check per
     second after a failure), the cookie is HttpOnly and SameSite=Strict;
  2. drives Chromium over the DevTools protocol (--remote-debugging-pipe):
     logs in through the form, sees the machines table, opens cp-1;
  3. makes the machine boot from its namespace (a real DHCP exchange with
     busybox udhcpc announcing UEFI PXE firmware, GET /ipxe, GET /config) and
     waits for the page to show the new state and timeline entries live
     (server-sent events, no reload);
  4. the cluster section, from real data: first "not yet" bootstrapped, not
     ready; then the stand-in installer installs cp-1 from the machine's
     namespace, the stand-in apid (metalpxe_standin_apid) answers at its
     address with the cluster's certificates, an `openssl s_server` with a
     certificate from the cluster's Kubernetes CA answers /readyz at the
     endpoint, and the page shows, live: cp-1 running with its Talos version,
     bootstrapped on cp-1, the etcd member, Kubernetes ready. No secret of the
     cluster (keys, tokens of its configs and talosconfig, the kubeconfig's
     client key) appears in the page's HTML or in any of its JSON;
  5. takes screenshots (desktop and a phone-sized viewport) and checks them:
     size, the header bar's colour where it must be, enough colours to be a
     rendered page; checks the phone layout (table header hidden, rows as
     cards), that no config token appears on the page, and that the browser
     logged no console error or exception.

Exits 0 on success; prints what failed and metalpxed's log otherwise.
Needs root (network namespaces), chromium, busybox udhcpc, curl and openssl.
"""
import argparse
import base64
import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

import yaml

MAC = "52:54:00:e2:e0:01"
PASSWORD = "correct horse battery"
SUBNET = "10.66.77"
SERVER_IP = SUBNET + ".1"
K8S_IP = SUBNET + ".250"  # the cluster's endpoint: a kube-apiserver stand-in in the machine's namespace
TALOS_VERSION = "v1.9.7"   # what the stand-in apid reports
UI = "http://127.0.0.1:50180"
FAILURES = []


def check(what, ok, detail=""):
    print(("  PASS  " if ok else "  FAIL  ") + what + ("" if ok or not detail else ": " + str(detail)[:600]))
    if not ok:
        FAILURES.append(what)
    return ok


def run(*cmd, check_rc=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check_rc and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def wait_for(pred, seconds, step=0.2):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception:  # noqa: BLE001 - keep polling until the deadline
            pass
        time.sleep(step)
    return None


# ---- the lab ----------------------------------------------------------------

class Lab:
    def __init__(self, build, source, work):
        self.build, self.source, self.work = build, source, work
        tag = str(os.getpid())
        self.ns = "mpxui" + tag
        self.machine_ns = self.ns + "-m1"
        self.veth = "vui" + tag
        self.procs = []

    def up(self):
        run("ip", "netns", "add", self.ns)
        run("ip", "-n", self.ns, "link", "set", "lo", "up")
        run("ip", "-n", self.ns, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.ns, "link", "set", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0")
        run("ip", "-n", self.ns, "addr", "add", SERVER_IP + "/24", "dev", "br0")
        run("ip", "-n", self.ns, "link", "set", "br0", "up")
        run("ip", "netns", "add", self.machine_ns)
        run("ip", "-n", self.machine_ns, "link", "set", "lo", "up")
        run("ip", "link", "add", self.veth, "netns", self.ns, "type", "veth", "peer", "name", "eth0", "netns",
            self.machine_ns)
        run("ip", "-n", self.ns, "link", "set", self.veth, "master", "br0")
        run("ip", "-n", self.ns, "link", "set", self.veth, "up")
        run("ip", "-n", self.machine_ns, "link", "set", "eth0", "address", MAC)
        run("ip", "-n", self.machine_ns, "link", "set", "eth0", "up")

    def down(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=5)
        for ns in (self.machine_ns, self.ns):
            run("ip", "netns", "del", ns, check_rc=False)

    def spawn(self, name, *cmd, ns=None, **kw):
        log = open(os.path.join(self.work, name + ".log"), "w")
        full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
        p = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def write_config(self):
        state = os.path.join(self.work, "state")
        tftp = os.path.join(self.work, "tftp")
        assets = os.path.join(self.work, "assets")
        for d in (state, tftp, assets):
            os.makedirs(d, exist_ok=True)
        # Boot files are only named and served here, never booted.
        for path, size in ((os.path.join(tftp, "snponly.efi"), 4096), (os.path.join(tftp, "undionly.kpxe"), 4096),
                           (os.path.join(assets, "vmlinuz"), 65536), (os.path.join(assets, "initramfs"), 65536)):
            with open(path, "wb") as f:
                f.write(os.urandom(size))
        run(os.path.join(self.source, "tests", "support", "talos-gen-config.sh"),
                  os.path.join(self.work, "prod"), "prod", "https://%s:6443" % K8S_IP, "/dev/vda")
        self.cluster_dir = os.path.join(self.work, "prod")
        inventory = os.path.join(self.work, "machines.yaml")
        with open(inventory, "w") as f:
            f.write(f"""machines:
  - name: cp-1
    macs: ["{MAC}"]
    role: controlplane
    installDisk: /dev/vda
    cluster: prod
""")
        self.config = os.path.join(self.work, "metalpxe.yaml")
        with open(self.config, "w") as f:
            f.write(f"""server:
  interface: br0
  address: {SERVER_IP}
  stateDir: {state}
  httpPort: 8080
  tftpPort: 69
  tftpRoot: {tftp}
  apiListen: 127.0.0.1:50100
  uiListen: 127.0.0.1:50180
  eventSinkPort: 50101
  kmsgLogPort: 50102
dhcp:
  mode: full
  subnets:
    - subnet: {SUBNET}.0/24
      pool: {SUBNET}.100-{SUBNET}.200
      router: {SERVER_IP}
      leaseTime: 1h
boot:
  unknownMachines: discover
  defaultRole: worker
  defaultProfile: default
  bootFromDisk: exit
profiles:
  default:
    kernel: {assets}/vmlinuz
    initramfs: {assets}/initramfs
    kernelArgs: [console=ttyS0]
    patches: []
clusters:
  prod:
    endpoint: https://{K8S_IP}:6443
    talosconfig: {self.cluster_dir}/talosconfig
    configs:
      controlplane: {self.cluster_dir}/controlplane.yaml
      worker: {self.cluster_dir}/worker.yaml
    bootstrap: auto
inventory: {inventory}
""")
        self.state = state


# ---- plain HTTP checks (inside the namespace, through curl) -----------------

def curl(lab, *args, ns=None):
    r = run("ip", "netns", "exec", ns or lab.ns, "curl", "-sS", "--max-time", "10", "-o", "-", "-D", "-",
            *args, check_rc=False)
    return r.stdout


def status_of(resp):
    m = re.match(r"HTTP/1\.1 (\d+)", resp)
    return int(m.group(1)) if m else 0


def check_login_over_http(lab):
    print("login, sessions and refusals over plain HTTP")
    check("the page redirects to the login without a session", "Location: /login" in curl(lab, UI + "/"))
    check("the API refuses without a session", status_of(curl(lab, UI + "/api/machines")) == 401)
    check("the stream refuses without a session", status_of(curl(lab, UI + "/api/stream")) == 401)
    check("a forged cookie opens nothing",
          status_of(curl(lab, "-H", "Cookie: metalpxe_session=" + "a" * 64, UI + "/api/machines")) == 401)
    wrong = curl(lab, "--data-urlencode", "password=not the password", UI + "/login")
    check("a wrong password gets 401 and the form again", status_of(wrong) == 401 and "Wrong password" in wrong,
          wrong[:200])
    again = curl(lab, "--data-urlencode", "password=" + PASSWORD, UI + "/login")
    check("right after a failure, even the right password waits (429)", status_of(again) == 429, again[:200])
    cross = curl(lab, "-H", "Origin: http://evil.example", "--data-urlencode", "password=" + PASSWORD, UI + "/login")
    check("a cross-origin login form is refused", status_of(cross) == 403, cross[:200])
    time.sleep(1.2)
    ok = curl(lab, "--data-urlencode", "password=" + PASSWORD, UI + "/login")
    cookie = re.search(r"Set-Cookie: (metalpxe_session=([0-9a-f]{64});[^\r\n]*)", ok)
    check("the right password gets a session and goes to the page", status_of(ok) == 303 and cookie is not None,
          ok[:300])
    if cookie:
        attrs = cookie.group(1)
        check("the cookie is HttpOnly and SameSite=Strict", "HttpOnly" in attrs and "SameSite=Strict" in attrs,
              attrs)
        api = curl(lab, "-H", "Cookie: metalpxe_session=" + cookie.group(2), UI + "/api/machines")
        check("with the session the API lists cp-1", status_of(api) == 200 and '"name":"cp-1"' in api, api[-300:])


# ---- the machine's boot, from its namespace ----------------------------------

def boot_machine(lab):
    """A DHCP exchange as UEFI PXE firmware, then /ipxe and /config from the leased address."""
    r = run("ip", "netns", "exec", lab.machine_ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5",
            "-T", "1", "-s", "/bin/true", "-V", "PXEClient:Arch:00007:UNDI:003016", "-x", "0x5d:0007",
            check_rc=False)
    m = re.search(r"lease of ([0-9.]+) obtained", r.stdout + r.stderr)
    if not check("the machine got a lease over DHCP", m is not None, r.stdout + r.stderr):
        return None
    ip = m.group(1)
    run("ip", "-n", lab.machine_ns, "addr", "add", ip + "/24", "dev", "eth0")
    script = curl(lab, "http://%s:8080/ipxe?mac=%s&arch=x86_64&platform=efi" % (SERVER_IP, MAC.replace(":", "-")),
                  ns=lab.machine_ns)
    token = re.search(r"/config/([A-Za-z0-9_-]+)", script)
    if not check("the machine got its installer script with a config URL", token is not None, script[-400:]):
        return None
    cfg = curl(lab, "http://%s:8080/config/%s" % (SERVER_IP, token.group(1)), ns=lab.machine_ns)
    check("the machine fetched its config", status_of(cfg) == 200, cfg[:200])
    kernel = re.search(r"\nkernel \S+ ([^\n]+)\n", script)
    lab.machine_ip, lab.kernel_args = ip, kernel.group(1) if kernel else ""
    return token.group(1)


# ---- Chromium over the DevTools protocol (pipe) -------------------------------

class Browser:
    def __init__(self, lab):
        self.lab = lab
        self.next_id = 0
        self.events = []
        self.buf = b""
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()

        # Chromium reads commands on fd 3 and writes answers on fd 4. Moved
        # above 10 first, so neither dup2 overwrites the other's source.
        def child_fds():
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            c = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(c, 4)

        profile = os.path.join(lab.work, "chromium-profile")
        env = dict(os.environ, HOME=lab.work)
        self.proc = lab.spawn("chromium", "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                              "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                              "--disable-extensions", "--disable-background-networking", "--remote-debugging-pipe",
                              "--user-data-dir=" + profile, "--window-size=1280,900", "about:blank",
                              ns=lab.ns, preexec_fn=child_fds, close_fds=False, env=env)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.w = to_chrome_w
        self.r = from_chrome_r
        self.session = None

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        for fd in (self.w, self.r):
            try:
                os.close(fd)
            except OSError:
                pass

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed its pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=True, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def pump(self, seconds=0.0):
        deadline = time.time() + seconds
        while True:
            try:
                self.events.append(self._read_message(max(deadline, time.time() + 0.01)))
            except TimeoutError:
                return

    def attach(self):
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.send(domain)
        # A fixed desktop viewport, so screenshots have a known size.
        self.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                                         "mobile": False})

    def js(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_js(self, expr, seconds, step=0.2):
        return wait_for(lambda: self.js(expr), seconds, step)

    def navigate(self, url):
        self.send("Page.navigate", {"url": url})
        self.wait_js("location.href !== 'about:blank' && document.readyState === 'complete'", 15)

    def screenshot(self, name):
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        png = base64.b64decode(data)
        path = os.path.join(self.lab.shots, name + ".png")
        with open(path, "wb") as f:
            f.write(png)
        return path, png

    def problems(self):
        """Console errors, exceptions and error log entries the page produced."""
        out = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:300])
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + json.dumps(p.get("args", []))[:300])
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", "")[:300] + " " + p["entry"].get("url", ""))
        return out


# ---- screenshot checks: a small PNG decoder (no imaging library needed) ------

def decode_png(png):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xFF
            elif f == 2:
                line[x] = (line[x] + b) & 0xFF
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def check_screenshot(name, png, width, height):
    w, h, bpp, rows = decode_png(png)
    check(f"{name}: screenshot is {width}x{height}", (w, h) == (width, height), (w, h))
    # The header bar (#1c2330) across the top of the page.
    px = rows[8][16 * bpp:16 * bpp + 3]
    check(f"{name}: the header bar is where it belongs", tuple(px) == (0x1C, 0x23, 0x30), tuple(px))
    colours = set()
    for y in range(0, h, 7):
        row = rows[y]
        for x in range(0, w, 7):
            colours.add(row[x * bpp:x * bpp + 3])
    check(f"{name}: a rendered page, not a blank one ({len(colours)} colours)", len(colours) >= 12, len(colours))


# ---- the test ----------------------------------------------------------------

def browser_test(lab):
    print("the page in headless Chromium")
    b = Browser(lab)
    try:
        b.attach()
        b.navigate(UI + "/")
        check("without a session the browser lands on the login form",
              b.wait_js("location.pathname === '/login' && document.readyState === 'complete'", 15))
        b.js("document.querySelector('#password').value = %s; document.querySelector('#login').submit(); true"
             % json.dumps(PASSWORD))
        b.wait_js("location.pathname === '/' && document.readyState === 'complete'", 15)
        check("logging in through the form opens the page", b.js("location.pathname") == "/")
        rows = b.wait_js("document.querySelectorAll('#machines tbody tr').length", 15)
        check("the machines table lists the lab's machine", rows == 1, rows)
        cells = b.js("[...document.querySelectorAll('#machines tbody tr td')].map(td => td.textContent)")
        check("cp-1 is listed, pending install, never seen", cells and cells[0] == "cp-1" and
              cells[1] == "pending-install" and cells[5] == "-", cells)
        check("the stream says it is live", b.wait_js("document.querySelector('#conn').textContent === 'live'", 10))
        b.js("document.querySelector('#machines tbody tr').click(); true")
        check("selecting cp-1 opens its detail", b.wait_js("!document.querySelector('#detail').hidden && "
                                                           "document.querySelector('#detail-title').textContent", 10))

        # The machine boots while the page is open: everything must arrive live.
        token = boot_machine(lab)
        state = b.wait_js("(document.querySelector('#machines tbody tr td.state') || {}).textContent === "
                          "'installing' && [...document.querySelectorAll('#machines tbody tr td')]"
                          ".map(td => td.textContent)", 20)
        check("the state change shows live, without a reload (pending-install -> installing)", state, state)
        if state:
            check("cp-1 now shows its address, firmware and profile",
                  state[2].startswith(SUBNET + ".") and state[3] == "uefi-x86_64" and state[4] == "default", state)
        entries = b.wait_js("[...document.querySelectorAll('#timeline li')].map(li => li.textContent).join(' | ')"
                            ".includes('HTTP GET /config: granted') && "
                            "[...document.querySelectorAll('#timeline li')].map(li => li.textContent)", 15)
        text = " | ".join(entries or [])
        check("the timeline shows the DHCP exchange as UEFI firmware, live",
              "DHCP DISCOVER from firmware (uefi-x86_64) -> OFFER" in text, text)
        check("... the iPXE decision", "HTTP GET /ipxe (uefi-x86_64): install as controlplane" in text, text)
        check("... the config granted and the state change",
              "HTTP GET /config: granted" in text and "pending-install -> installing" in text, text)
        _, png = b.screenshot("1-desktop-installing")
        check_screenshot("desktop", png, 1280, 900)

        # More of the boot: a refused config fetch and kernel-log milestones.
        curl(lab, "http://%s:8080/config/%s" % (SERVER_IP, "x" * 43), ns=lab.machine_ns)
        check("the machine sent its kernel log", send_kernel_log(lab, [
            "Linux version 6.6.0-stand-in (test) #1 SMP", "[talos] phase install (1/1): done"]))
        grown = b.wait_js("[...document.querySelectorAll('#timeline li')].map(li => li.textContent).join(' | ')"
                          ".includes('kernel started') && "
                          "[...document.querySelectorAll('#timeline li')].map(li => li.textContent).join(' | ')", 15)
        check("a refused config fetch and kernel milestones join the timeline live",
              grown and "HTTP GET /config: refused" in grown and "[talos] phase install (1/1): done" in grown, grown)
        log = b.wait_js("document.querySelector('#kmsg').textContent.includes('[talos] phase install') && "
                        "document.querySelector('#kmsg').textContent", 15)
        check("the kernel log streams live", bool(log), log)
        # Another machine's firmware asks for an address: the list grows live.
        discover_second_machine(lab)
        two = b.wait_js("document.querySelectorAll('#machines tbody tr').length === 2 && "
                        "[...document.querySelectorAll('#machines tbody tr')].map(tr => tr.textContent).join(' | ')",
                        20)
        check("a newly discovered machine appears in the list live", two and "discovered" in two, two)
        _, png = b.screenshot("2-desktop-two-machines")
        check_screenshot("desktop, two machines", png, 1280, 900)

        cluster_test(lab, b)

        page_text = b.js("document.documentElement.outerHTML")
        check("no config token anywhere on the page", bool(token) and token not in page_text)
        check("no machine config on the page", "clusterName" not in page_text)

        # A phone.
        b.send("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2,
                                                      "mobile": True})
        b.pump(0.5)
        check("on a phone the table header is hidden",
              b.js("getComputedStyle(document.querySelector('#machines thead')).display") == "none")
        check("on a phone each machine is a card (rows as blocks)",
              b.js("getComputedStyle(document.querySelector('#machines tbody tr')).display") == "block")
        check("on a phone nothing is wider than the screen",
              b.js("document.documentElement.scrollWidth <= window.innerWidth + 1"),
              b.js("[document.documentElement.scrollWidth, window.innerWidth]"))
        check("on a phone the cluster's node table is cards too",
              b.js("getComputedStyle(document.querySelector('.cluster table.nodes tbody tr')).display") == "block")
        _, png = b.screenshot("4-phone")
        check_screenshot("phone", png, 780, 1688)

        b.pump(0.5)
        problems = b.problems()
        check("no console errors or exceptions in the browser", not problems, problems)
    finally:
        b.close()


# ---- the cluster: cp-1 installs, runs, bootstraps; Kubernetes answers ---------

def cluster_secrets(lab):
    """Every secret of the cluster's files: keys, tokens, secrets (YAML values), and the kubeconfig's key."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str) and len(v) >= 8 and (k in ("key", "token", "secret") or k.endswith("Secret")):
                    found.add(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for name in ("controlplane.yaml", "worker.yaml", "talosconfig"):
        with open(os.path.join(lab.cluster_dir, name)) as f:
            walk(yaml.safe_load(f))
    return found


def start_kube_apiserver(lab):
    """openssl s_server at the cluster's endpoint, certificate from the cluster's Kubernetes CA, /readyz -> ok."""
    d = os.path.join(lab.work, "apiserver")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(lab.cluster_dir, "controlplane.yaml")) as f:
        ca = yaml.safe_load(f)["cluster"]["ca"]
    for name, value in (("ca.crt", ca["crt"]), ("ca.key", ca["key"])):
        with open(os.path.join(d, name), "wb") as f:
            f.write(base64.b64decode(value))
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:%s\n" % K8S_IP)
    with open(os.path.join(d, "readyz"), "w") as f:
        f.write("ok")
    run("sh", "-c", "cd '%s' && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key "
        "-subj /CN=kube-apiserver -out srv.csr 2>/dev/null && openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key "
        "-CAcreateserial -days 1 -out srv.crt -extfile ext.cnf 2>/dev/null" % d)
    run("ip", "-n", lab.machine_ns, "addr", "add", K8S_IP + "/32", "dev", "eth0")
    lab.spawn("apiserver", "openssl", "s_server", "-accept", K8S_IP + ":6443", "-cert", "srv.crt", "-key", "srv.key",
              "-WWW", ns=lab.machine_ns, cwd=d)


def install_and_run_cluster_node(lab):
    """The stand-in installer installs cp-1 (its config fetched with the token of its iPXE script), then the
    stand-in apid answers at its address as the installed node would, with the cluster's certificates."""
    disk = os.path.join(lab.work, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    cmdline = os.path.join(lab.work, "cmdline")
    with open(cmdline, "w") as f:
        f.write(lab.kernel_args + " standin.disk=" + disk + " standin.expect=cp-1/controlplane\n")
    r = run("ip", "netns", "exec", lab.machine_ns,
            os.path.join(lab.build, "tests", "e2e", "installer", "metalpxe_standin_installer"), cmdline,
            check_rc=False, timeout=90)
    if not check("the stand-in installer installed cp-1", r.returncode == 0, r.stdout[-600:] + r.stderr[-600:]):
        return False
    lab.spawn("apid", os.path.join(lab.build, "tests", "e2e", "installer", "metalpxe_standin_apid"),
              "--listen", lab.machine_ip + ":50000", "--address", lab.machine_ip,
              "--config", os.path.join(lab.cluster_dir, "controlplane.yaml"), "--not-ready-bootstraps", "1",
              "--version", TALOS_VERSION, "--state", os.path.join(lab.work, "apid.state"), ns=lab.machine_ns)
    return True


def session_cookie(lab):
    ok = curl(lab, "--data-urlencode", "password=" + PASSWORD, UI + "/login")
    m = re.search(r"Set-Cookie: metalpxe_session=([0-9a-f]{64});", ok)
    return m.group(1) if m else ""


def kubeconfig_client_key(lab):
    """The kubeconfig's client key, as the stand-in apid serves it (through metalpxectl)."""
    ctl = os.path.join(lab.build, "cli", "metalpxectl")
    r = run("ip", "netns", "exec", lab.ns, ctl, "--config", os.path.join(lab.state, "pki", "admin.metalpxeconfig"),
            "kubeconfig", "prod", check_rc=False, timeout=90)
    m = re.search(r"client-key-data: (\S+)", r.stdout)
    check("metalpxectl kubeconfig fetches the cluster's kubeconfig (for the secret check)", m is not None,
          r.stderr[-300:])
    return m.group(1) if m else None


CLUSTER_CARD = "document.querySelector('.cluster[data-cluster=\"prod\"]')"


def cluster_card_text(b):
    return b.js("(%s || {textContent: ''}).textContent" % CLUSTER_CARD)


def cluster_test(lab, b):
    print("the cluster section, from a running cluster")
    card = b.wait_js("!document.querySelector('#clusters-section').hidden && " + CLUSTER_CARD + " !== null", 15)
    check("the page has a cluster section with cluster prod", card)
    before = b.wait_js("(%s.querySelector('.badge.kubernetes').dataset.ready === 'false') && %s.textContent"
                       % (CLUSTER_CARD, CLUSTER_CARD), 30)
    check("before it runs: bootstrap not yet, Kubernetes checked and not ready, no etcd",
          before and "not yet (auto)" in before and "Kubernetes not ready" in before and
          "no control plane of cluster prod is running" in before, before or cluster_card_text(b))
    nodes = b.js("[...%s.querySelectorAll('table.nodes tbody td')].map(td => td.textContent)" % CLUSTER_CARD)
    check("its node cp-1 is listed with role, state, address",
          nodes and nodes[:2] == ["cp-1", "controlplane"] and nodes[2] in ("installing", "installed") and
          nodes[3] == lab.machine_ip and nodes[4] == "-", nodes)

    start_kube_apiserver(lab)
    if not install_and_run_cluster_node(lab):
        return
    # metalpxed looks every 10 s (running, then Bootstrap after one "not ready"); the page asks every 10 s.
    done = b.wait_js("(() => { const c = %s; if (!c) return false;"
                     " const t = c.textContent;"
                     " return c.querySelector('.badge.bootstrap').dataset.state === 'bootstrapped' &&"
                     " c.querySelector('.badge.kubernetes').dataset.ready === 'true' &&"
                     " c.querySelector('table.etcd') !== null && t.includes('%s') && t; })()"
                     % (CLUSTER_CARD, TALOS_VERSION), 90, step=1)
    text = done or cluster_card_text(b)
    check("live: the cluster shows bootstrapped, Kubernetes ready, the etcd member and the node's version", done,
          text)
    nodes = b.js("[...%s.querySelectorAll('table.nodes tbody td')].map(td => td.textContent)" % CLUSTER_CARD)
    check("cp-1: controlplane, running, at its address, on the stand-in's Talos version",
          nodes == ["cp-1", "controlplane", "running", lab.machine_ip, TALOS_VERSION], nodes)
    check("bootstrapped on cp-1 after Talos's one 'not ready'", "bootstrapped (auto) on cp-1, 2 call(s)" in text, text)
    check("Kubernetes /readyz answers ok", "answers (ok)" in text, text)
    etcd = b.js("[...%s.querySelectorAll('table.etcd tbody td')].map(td => td.textContent)" % CLUSTER_CARD)
    check("the etcd member: its peer URL at cp-1's address, not a learner",
          etcd and len(etcd) == 4 and etcd[2] == "https://%s:2380" % lab.machine_ip and etcd[3] == "no", etcd)
    check("nodes by state: 1 running", "Nodes: 1 running" in text, text)
    _, png = b.screenshot("3-desktop-cluster")
    check_screenshot("desktop, cluster", png, 1280, 900)

    # The same facts as JSON, and no secret anywhere.
    cookie = session_cookie(lab)
    api = curl(lab, "-H", "Cookie: metalpxe_session=" + cookie, UI + "/api/clusters")
    body = api.replace("\r\n", "\n").split("\n\n", 1)[-1]  # run() reads text: newlines already translated
    try:
        clusters = json.loads(body)["clusters"]
    except ValueError:
        clusters = []
    c = clusters[0] if clusters else {}
    check("/api/clusters: prod, bootstrapped, ready, its member and node",
          c.get("name") == "prod" and c.get("bootstrap") == "bootstrapped" and c.get("kubernetesReady") is True and
          len(c.get("etcdMembers", [])) == 1 and c.get("nodes", [{}])[0].get("talosVersion") == TALOS_VERSION, body)
    machines = curl(lab, "-H", "Cookie: metalpxe_session=" + cookie, UI + "/api/machines")
    stream = run("ip", "netns", "exec", lab.ns, "curl", "-sS", "--max-time", "3", "-H",
                 "Cookie: metalpxe_session=" + cookie, UI + "/api/stream?machine=" + MAC, check_rc=False).stdout
    check("the stream carries the clusters too", "event: clusters" in stream, stream[:300])
    secrets = cluster_secrets(lab)
    key = kubeconfig_client_key(lab)
    if key:
        secrets.add(key)
    check("the cluster's files have secrets to look for", len(secrets) >= 6, len(secrets))
    html = b.js("document.documentElement.outerHTML")
    for where, text in (("page HTML", html), ("/api/clusters", body), ("/api/machines", machines),
                        ("the event stream", stream)):
        leaked = [x[:12] + "..." for x in secrets if x in text]
        check("no secret of the cluster in the " + where, not leaked, leaked)
        check("no PEM, kubeconfig or machine config in the " + where,
              not any(w in text for w in ("PRIVATE KEY", "BEGIN CERTIFICATE", "client-key-data", "clusterName",
                                          "contexts:", "secretboxEncryptionSecret")), where)


def send_kernel_log(lab, messages):
    """Kernel-log lines as Talos sends them (JSON lines over TCP) from the machine's address."""
    lines = "".join(json.dumps({"msg": m, "facility": "kern", "priority": "info", "seq": i,
                                "clock": 1000 * i}) + "\n" for i, m in enumerate(messages))
    r = subprocess.run(["ip", "netns", "exec", lab.machine_ns, "busybox", "nc", "-w", "2", SERVER_IP, "50102"],
                       input=lines, capture_output=True, text=True)
    return r.returncode == 0


def discover_second_machine(lab):
    """Another machine's firmware asks for an address: an unknown MAC, discovered."""
    ns = lab.machine_ns
    run("ip", "-n", ns, "link", "add", "link", "eth0", "name", "mv0", "address", "52:54:00:e2:e0:99", "type",
        "macvlan", "mode", "bridge", check_rc=False)
    run("ip", "-n", ns, "link", "set", "mv0", "up", check_rc=False)
    run("ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "mv0", "-n", "-q", "-f", "-t", "3", "-T", "1", "-s",
        "/bin/true", "-V", "PXEClient:Arch:00007:UNDI:003016", "-x", "0x5d:0007", check_rc=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    metalpxed = os.path.join(args.build_dir, "daemon", "metalpxed")
    bins = [(metalpxed, "metalpxed (build target metalpxed)")]
    for rel in ("cli/metalpxectl", "tests/e2e/installer/metalpxe_standin_installer",
                "tests/e2e/installer/metalpxe_standin_apid"):
        bins.append((os.path.join(args.build_dir, rel), rel + " (build target " + os.path.basename(rel) + ")"))
    for need, what in bins + [(shutil.which("chromium"), "chromium"), (shutil.which("busybox"), "busybox"),
                              (shutil.which("curl"), "curl"), (shutil.which("openssl"), "openssl")]:
        if not need or not os.path.exists(need):
            print(f"status page browser test: {what} is missing")
            return 1
    if os.geteuid() != 0:
        print("status page browser test: needs root (network namespaces)")
        return 1
    args.build_dir, args.source_dir = os.path.abspath(args.build_dir), os.path.abspath(args.source_dir)
    work = tempfile.mkdtemp(prefix="mpx-ui-")
    lab = Lab(args.build_dir, args.source_dir, work)
    lab.shots = os.path.join(args.build_dir, "tests", "ui", "screenshots")
    os.makedirs(lab.shots, exist_ok=True)
    ok = False
    try:
        lab.up()
        lab.write_config()
        r = subprocess.run([metalpxed, "--config", lab.config, "--set-ui-password"], input=PASSWORD + "\n",
                           capture_output=True, text=True)
        check("metalpxed --set-ui-password stores a hash", r.returncode == 0, r.stderr)
        stored = open(os.path.join(lab.state, "ui-password")).read()
        check("the password file holds a PBKDF2 hash, not the password",
              stored.startswith("pbkdf2-sha256$") and PASSWORD not in stored, stored[:40])
        check("the password file is private", (os.stat(os.path.join(lab.state, "ui-password")).st_mode & 0o777)
              == 0o600)
        mpx = lab.spawn("metalpxed", metalpxed, "--config", lab.config, ns=lab.ns)
        up = wait_for(lambda: status_of(curl(lab, UI + "/login")) == 200, 30)
        if not check("metalpxed serves the status page on uiListen", up):
            raise RuntimeError("no status page")
        check("the page is not on the boot network",
              status_of(curl(lab, "http://%s:50180/login" % SERVER_IP, ns=lab.machine_ns)) == 0)
        check_login_over_http(lab)
        browser_test(lab)
        check("metalpxed is still running", mpx.poll() is None)
        ok = not FAILURES
    except Exception as e:  # noqa: BLE001 - report, dump, clean up
        check("the test ran to the end", False, repr(e))
    finally:
        lab.down()
        if not ok:
            log = os.path.join(work, "metalpxed.log")
            if os.path.exists(log):
                print("---- metalpxed log (tail) ----")
                print("".join(open(log, errors="replace").readlines()[-40:]))
        print(f"screenshots in {lab.shots}")
        shutil.rmtree(work, ignore_errors=True)
    print(("PASSED" if ok else "FAILED: " + ", ".join(FAILURES)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
