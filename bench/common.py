"""What the bench scripts share: a free loopback port, waiting for a server, Apache
httpd serving a directory listing over loopback, and timing a command.

Every server binds 127.0.0.1 only (benches send nothing outside loopback)."""
import os
import socket
import subprocess
import time

MODULES = "/usr/lib/apache2/modules"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, what, errlog=None):
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    detail = open(errlog).read() if errlog and os.path.exists(errlog) else ""
    raise SystemExit(f"{what} did not start {detail}".rstrip())


def start_apache(work, doc, fancy=True, threads=16, workers=64, log=None, writable=False):
    """Apache (event MPM) serving `doc` with directory listings from `work/httpd`.
    `log` is `(format, path)` for an access log. Returns (process, base URL, dir)."""
    port = free_port()
    d = os.path.join(work, "httpd")
    os.makedirs(d)
    access = f'LogFormat "{log[0]}" bench\nCustomLog "{log[1]}" bench\n' if log else ""
    index = "  IndexOptions FancyIndexing\n" if fancy else ""
    conf = f"""ServerRoot "{d}"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule mime_module {MODULES}/mod_mime.so
LoadModule dir_module {MODULES}/mod_dir.so
LoadModule autoindex_module {MODULES}/mod_autoindex.so
User nobody
Group nogroup
PidFile "{d}/httpd.pid"
ErrorLog "{d}/error.log"
{access}DefaultRuntimeDir "{d}"
Mutex file:{d} default
TypesConfig /etc/mime.types
KeepAlive On
MaxKeepAliveRequests 0
StartServers 2
ServerLimit 4
ThreadsPerChild {threads}
MaxRequestWorkers {workers}
DocumentRoot "{doc}"
<Directory "{doc}">
  Options +Indexes
  Require all granted
{index}</Directory>
"""
    with open(os.path.join(d, "httpd.conf"), "w") as f:
        f.write(conf)
    subprocess.run(["chmod", "-R", "a+rwX" if writable else "a+rX", work], check=True)
    env = dict(os.environ, APACHE_RUN_DIR=d, APACHE_LOCK_DIR=d, APACHE_LOG_DIR=d, TZ="UTC")
    proc = subprocess.Popen(["/usr/sbin/apache2", "-f", os.path.join(d, "httpd.conf"), "-DFOREGROUND"], env=env)
    wait_port(port, "apache", os.path.join(d, "error.log"))
    return proc, f"http://127.0.0.1:{port}", d


def timed(cmd, env=None, ok=(0,)):
    """Wall seconds of `cmd`; exits naming the command when it fails."""
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if p.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    return dt


def daf(kind, size):
    """`size` bytes that pass kdb's structure check: a little-endian DAF file record
    of `kind` (`b"DAF/SPK "`...) with ND/NI of its type and no summary records, then
    random bytes (a kernel without segments; the benches move bytes, not answers)."""
    h = bytearray(1024)
    h[0:8] = kind
    ni = 5 if kind.startswith(b"DAF/PCK") else 6
    h[8:12] = (2).to_bytes(4, "little")
    h[12:16] = ni.to_bytes(4, "little")
    h[16:76] = b"kdb bench".ljust(60)
    h[88:96] = b"LTL-IEEE"
    return bytes(h) + os.urandom(max(0, size - 1024))
