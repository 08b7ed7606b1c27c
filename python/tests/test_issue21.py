"""Issue 21: the Python API as a notebook user meets it. One test (or more) per
numbered item; each failed on the code before the change."""

from __future__ import annotations

import copy
import http.server
import inspect
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
import typing
import warnings
from pathlib import Path

import kdb
import pytest
from conftest import DEMO_ENTRIES, DEMO_MK, DEMO_ROOT, REPO, under_pty

PKG_DIR = str(Path(kdb.__file__).parents[1])
LSK = DEMO_ROOT / "pub/naif/generic_kernels/lsk/demo_leapseconds.tls"


def _spiceypy():
    try:
        import spiceypy
    except ImportError:
        if os.environ.get("KDB_REQUIRE_CSPICE") == "1":
            pytest.fail("KDB_REQUIRE_CSPICE=1 but spiceypy cannot be imported")
        pytest.skip("spiceypy not installed")
    return spiceypy


@pytest.fixture
def spk_tree(tmp_path: Path) -> Path:
    """root/MPOT/kernels/{lsk,spk,mk}: an LSK and an SPK for -121 (BEPICOLOMBO MPO)
    from 2027-06-10 to 2027-06-12 written by CSPICE, and mk/cov.tm loading both."""
    sp = _spiceypy()
    np = pytest.importorskip("numpy")
    root = tmp_path / "tree"
    k = root / "MPOT/kernels"
    for d in ("lsk", "spk", "mk"):
        (k / d).mkdir(parents=True)
    shutil.copy(LSK, k / "lsk/test.tls")
    sp.kclear()
    sp.furnsh(str(LSK))
    et0 = sp.str2et("2027-06-10T00:00:00")
    et1 = sp.str2et("2027-06-12T00:00:00")
    sp.kclear()
    h = sp.spkopn(str(k / "spk/mpo_test.bsp"), "kdb test", 0)
    states = np.zeros((3, 6))
    states[:, 0] = [1e6, 1.1e6, 1.2e6]
    sp.spkw08(h, -121, 399, "J2000", et0, et1, "seg", 1, 3, states, et0, (et1 - et0) / 2)
    sp.spkcls(h)
    (k / "mk/cov.tm").write_text(
        "KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'K' )\n"
        "KERNELS_TO_LOAD = ( '$K/lsk/test.tls' '$K/spk/mpo_test.bsp' )\n\\begintext\n"
    )
    return root


def _serve(root: Path, stall: threading.Event | None = None, hit: threading.Event | None = None):
    class H(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            if stall is not None and not self.path.endswith(".tm"):
                if hit is not None:
                    hit.set()
                stall.wait(60)
            super().do_GET()

    def handler(*a: object, **kw: object) -> H:
        return H(*a, directory=str(root), **kw)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"




# 1 ------------------------------------------------------------------------------


def test_item01_a_local_path_as_str_is_a_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = kdb.get(str(DEMO_MK), home=home)
    assert Path(first).is_file()
    monkeypatch.chdir(DEMO_MK.parent)
    assert kdb.get("demo.tm", home=home) == first  # an existing file in cwd
    assert kdb.get("./demo.tm", home=home) == first
    monkeypatch.chdir(DEMO_ROOT)
    assert kdb.get("pub/naif/DEMO/kernels/mk/demo.tm", home=home) == first
    fake_home = tmp_path / "me"
    fake_home.mkdir()
    (fake_home / "demo").symlink_to(DEMO_ROOT)
    monkeypatch.setenv("HOME", str(fake_home))
    assert kdb.get("~/demo/pub/naif/DEMO/kernels/mk/demo.tm", home=home) == first
    with pytest.raises(FileNotFoundError) as e:
        kdb.get("C:\\Users\\me\\kernels\\mk\\demo.tm", home=home)
    assert isinstance(e.value, kdb.NotFound) and "C:\\Users" in str(e.value)


# 2 ------------------------------------------------------------------------------


def test_item02_the_docstring_one_liner_and_str_paths(
    home: Path, spk_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sp = _spiceypy()
    monkeypatch.setenv("KDB_HOME", str(home))
    sp.kclear()
    try:
        sp.furnsh(kdb.get(DEMO_MK.as_uri()))  # no str() needed
        assert sp.ktotal("ALL") == len(DEMO_ENTRIES) + 1
    finally:
        sp.kclear()
    mk = kdb.get(DEMO_MK.as_uri())
    assert type(mk) is kdb.Metakernel and isinstance(mk, str)
    assert type(kdb.resolve("demo_pck_v01.tpc")) is str
    assert all(type(e["path"]) is str for e in kdb.entries(mk))
    cov = kdb.coverage(mk=spk_tree / "MPOT/kernels/mk/cov.tm")
    assert type(cov["kernels"][0]["file"]) is str
    assert all(type(p["path"]) is str for p in kdb.aliases("demo_pck_v01.tpc")["locations"])
    assert pickle.loads(pickle.dumps(mk)) == mk


# 3 ------------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")
def test_item03_a_failed_download_on_a_terminal_raises_the_error(
    http_demo: tuple[str, Path], home: Path
) -> None:
    base, root = http_demo
    (root / "pub/naif/DEMO/kernels/pck/demo_pck_v01.tpc").unlink()
    code = (
        "import json, sys, kdb\n"
        "try:\n    kdb.get(sys.argv[1], home=sys.argv[2])\n"
        "except kdb.Partial as e:\n    print(json.dumps(e.message))\n"
    )
    rc, out = under_pty(code, f"{base}/pub/naif/DEMO/kernels/mk/demo.tm", str(home))
    assert rc == 0, out
    message = json.loads(out)
    assert message.startswith("1 kernel(s) failed: demo_pck_v01.tpc"), message
    assert "░" not in message and "downloading" not in message


# 4 ------------------------------------------------------------------------------


def test_item04_threads_find_the_binary_once() -> None:
    binary = kdb.find_binary()
    env = {k: v for k, v in os.environ.items() if k != "KDB_BINARY"}
    env["PATH"] = f"{binary.parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = PKG_DIR
    code = (
        "import threading, kdb\n"
        "b = threading.Barrier(16); errors = []\n"
        "def go():\n"
        "    b.wait()\n"
        "    try:\n        kdb.version()\n"
        "    except BaseException as e:\n        errors.append(repr(e))\n"
        "ts = [threading.Thread(target=go) for _ in range(16)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(errors)\n"
    )
    for _ in range(3):  # a fresh interpreter each round
        p = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=PKG_DIR
        )
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == "[]", p.stdout


# 5 ------------------------------------------------------------------------------


def test_item05_every_exception_pickles_and_copies() -> None:
    classes = [
        getattr(kdb, n)
        for n in dir(kdb)
        if isinstance(getattr(kdb, n), type) and issubclass(getattr(kdb, n), kdb.KdbError)
    ]
    assert len(classes) >= 9
    for cls in classes:
        e = cls("boom", code=3, command=["kdb", "get"], report={"failed": []})
        for back in (pickle.loads(pickle.dumps(e)), copy.copy(e), copy.deepcopy(e)):
            assert type(back) is cls
            assert (back.message, back.code, back.cmd, back.report) == (
                "boom", 3, ("kdb", "get"), {"failed": []})
            assert str(back) == "boom"
    nf = kdb.NoSuchFile("gone", filename="/x")
    assert pickle.loads(pickle.dumps(nf)).filename == "/x"


def _raise_not_found(home: str) -> None:
    kdb.resolve("no_such.bsp", home=home)


def test_item05_a_workers_not_found_reaches_the_pool(home: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        with pytest.raises(kdb.NotFound):
            pool.submit(_raise_not_found, str(home)).result()


# 6 ------------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")
def test_item06_sigint_to_python_alone_ends_kdb(home: Path, tmp_path: Path) -> None:
    root = tmp_path / "served"
    shutil.copytree(DEMO_ROOT, root)
    stall, hit = threading.Event(), threading.Event()
    server, base = _serve(root, stall, hit)
    url = f"{base}/pub/naif/DEMO/kernels/mk/demo.tm"
    code = (
        "import sys, kdb\n"
        "try:\n    kdb.get(sys.argv[1], home=sys.argv[2])\n"
        "except KeyboardInterrupt:\n    print('interrupted', flush=True); raise\n"
    )

    def interrupt(p: subprocess.Popen) -> None:
        assert hit.wait(60), "kdb never asked for a kernel"
        time.sleep(0.3)
        os.kill(p.pid, signal.SIGINT)  # Python only, not its process group

    try:
        rc, out = under_pty(code, url, str(home), on_output=interrupt)
        assert "interrupted" in out and rc != 0
        # the child is gone: the home lock is free at once
        env_timeout = os.environ.get("KDB_LOCK_TIMEOUT")
        os.environ["KDB_LOCK_TIMEOUT"] = "0"
        try:
            stall.set()
            assert Path(kdb.get(url, home=home)).is_file()
        finally:
            if env_timeout is None:
                del os.environ["KDB_LOCK_TIMEOUT"]
            else:
                os.environ["KDB_LOCK_TIMEOUT"] = env_timeout
    finally:
        stall.set()
        server.shutdown()
        server.server_close()


# 7 ------------------------------------------------------------------------------


def test_item07_coverage_takes_one_id_or_name_and_one_file(
    home: Path, spk_tree: Path
) -> None:
    mk = spk_tree / "MPOT/kernels/mk/cov.tm"
    bsp = spk_tree / "MPOT/kernels/spk/mpo_test.bsp"
    for ids in ("MPO", -121, [-121], ("BEPICOLOMBO MPO",)):
        cov = kdb.coverage(ids, mk=mk, home=home)
        assert [i["id"] for k in cov["kernels"] for i in k["ids"]] == [-121], ids
    one = kdb.coverage(-121, files=str(bsp), home=home)
    assert [k["name"] for k in one["kernels"]] == ["mpo_test.bsp"]
    assert kdb.coverage(-121, files=bsp, home=home) == one
    with pytest.raises(kdb.NotFound) as e:
        kdb.coverage(-121, files=[bsp, spk_tree / "nope.bsp"], home=home)
    assert "nope.bsp" in str(e.value) and isinstance(e.value, FileNotFoundError)


# 8 ------------------------------------------------------------------------------


def test_item08_warnings_reach_python_and_get_reports(
    home: Path, spk_tree: Path
) -> None:
    server, base = _serve(spk_tree)  # SimpleHTTPRequestHandler: no Range support
    try:
        url = f"{base}/MPOT/kernels/mk/cov.tm"
        with pytest.warns(kdb.KdbWarning) as rec:
            cov = kdb.coverage([-121], mk=url, home=home)
        assert cov["kernels"] == []
        assert any("mpo_test.bsp" in str(w.message) for w in rec), [str(w.message) for w in rec]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.filterwarnings("ignore", category=kdb.KdbWarning)
            kdb.coverage([-121], mk=url, home=home)  # filterable
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mk = kdb.get(url, window=("2030-01-01", "2030-01-02"), home=home)
        assert mk.window is not None
        assert mk.taken == 2 and mk.skipped == 0
        reasons = {e["name"]: e["reason"] for e in mk.window["entries"]}
        assert "unknown" in reasons["mpo_test.bsp"] or "Range" in reasons["mpo_test.bsp"]
        assert mk.failed == [] and mk.report["downloaded"] == 2
    finally:
        server.shutdown()
        server.server_close()


def test_item08_a_windowed_get_says_what_it_skipped(home: Path, spk_tree: Path) -> None:
    mk = kdb.get(spk_tree / "MPOT/kernels/mk/cov.tm", window=("2030-01-01", "2030-01-02"),
                 bodies="EARTH", home=home)
    assert mk.window is not None and mk.taken is not None and mk.bytes_saved is not None


# 9 ------------------------------------------------------------------------------


def test_item09_values_starting_with_a_dash_are_not_options(home: Path) -> None:
    kdb.get(DEMO_MK.as_uri(), home=home)
    with pytest.raises(kdb.NotFound) as e:
        kdb.resolve("--help", home=home)
    assert "--help" in str(e.value)
    with pytest.raises(kdb.KdbError) as g:
        kdb.get("--dry-run", home=home)
    assert "unexpected argument" not in str(g.value) and "Usage:" not in str(g.value)
    with pytest.raises(kdb.NotFound):
        kdb.aliases("-x", home=home)


# 10 -----------------------------------------------------------------------------


def test_item10_star_import_keeps_the_builtin_list() -> None:
    ns: dict[str, object] = {}
    exec("from kdb import *\nresult = list(range(3))", ns)
    assert ns["result"] == [0, 1, 2]
    assert "list" not in kdb.__all__ and "entries" in kdb.__all__
    assert kdb.list is kdb.entries


# 11 -----------------------------------------------------------------------------


def test_item11_numpy_and_text_times(home: Path, spk_tree: Path) -> None:
    np = pytest.importorskip("numpy")
    mk = spk_tree / "MPOT/kernels/mk/cov.tm"
    inside = 865900000.0
    for t in (
        np.int64(int(inside)),
        np.float32(inside),
        np.float64(inside),
        np.datetime64("2027-06-11T00:00:00"),
        np.datetime64("2027-06-11T00:00:00.123456789"),
        "2027-06-10T12:00:00Z",
        "2027 JUN 10 12:00:00",
    ):
        cov = kdb.coverage(-121, mk=mk, at=t, home=home)
        assert len(cov["kernels"]) == 1, t
    cov = kdb.coverage(-121, mk=mk, window=(np.datetime64("2027-06-11"), "2027 JUN 11 06:00"),
                       home=home)
    assert len(cov["kernels"]) == 1


# 12 -----------------------------------------------------------------------------


def test_item12_errors_name_the_apis_parameters(home: Path, spk_tree: Path, tmp_path: Path) -> None:
    mk = spk_tree / "MPOT/kernels/mk/cov.tm"
    with pytest.raises(kdb.Usage) as e:
        kdb.coverage(mk=mk, time="julian", home=home)
    assert "time=" in str(e.value) and "--time" not in str(e.value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(kdb.Usage) as e:
        kdb.get(DEMO_MK, bodies=[-121], home=home)
    assert "window=" in str(e.value) and "--from" not in str(e.value)
    with pytest.raises(kdb.Usage) as e:
        kdb.entries(DEMO_MK, kernel_type="nonsense", home=home)
    assert "kernel_type=" in str(e.value)
    with pytest.raises(kdb.NotFound) as e:
        kdb.get("x.tm", mission="bepic", home=home)
    assert "kdb.mission_add(" in str(e.value) and "`kdb mission add" not in str(e.value)
    # a kernel found nowhere offline: the message says offline=True
    kdb.get(DEMO_MK.as_uri(), home=home)
    lf = kdb.lock(kdb.get(DEMO_MK.as_uri(), home=home), tmp_path / "d.kdb.lock", home=home)
    text = Path(lf).read_text().replace(DEMO_ROOT.as_uri(), "file:///nowhere")
    Path(lf).write_text(text)
    with pytest.raises(kdb.Partial) as p:
        kdb.restore(lf, offline=True, home=tmp_path / "empty-home")
    msg = str(p.value)
    assert "--offline" not in msg and "--from" not in msg and "--help" not in msg


# 13 -----------------------------------------------------------------------------


def test_item13_which_gaps_metakernels_scan_verify_update(home: Path, spk_tree: Path) -> None:
    mk = kdb.get(spk_tree / "MPOT/kernels/mk/cov.tm", home=home)
    w = kdb.which(mk, body="MPO", at="2027-06-11T00:00:00", home=home)
    assert w["winner"] is not None and w["winner"]["file"].endswith("mpo_test.bsp")
    g = kdb.gaps(mk, body=-121, window=("2027-06-09", "2027-06-13"), home=home)
    assert g["id"] == -121 and len(g["gaps"]) == 2
    assert [m["name"] for m in kdb.metakernels(home=home)] == ["cov.tm"]
    s = kdb.scan(spk_tree / "MPOT/kernels/spk", home=home)
    assert s["skipped"] == [] and s["root"].endswith("spk")
    v = kdb.verify(home=home)
    assert v["findings"] == []
    u = kdb.update("cov.tm", home=home)
    assert u[0]["report"]["unchanged"] is True
    mission = kdb.mission_add("DEMO2", mk_dir_url=DEMO_MK.parent.as_uri() + "/", home=home)
    assert mission["name"] == "DEMO2"


def test_item13_get_options(home: Path, spk_tree: Path) -> None:
    src = spk_tree / "MPOT/kernels/mk/cov.tm"
    plan = kdb.get(src, dry_run=True, home=home)
    assert plan == "" and plan.report["dry_run"] is True
    assert not (home / "missions").exists() or not any((home / "missions").rglob("*.bsp"))
    mk = kdb.get(src, window=("2027-06-10", "2027-06-11"), bodies=[-121], pad=3600,
                 jobs=2, quiet=True, progressbar=False, home=home)
    assert mk.window is not None and mk.window["pad_seconds"] == 3600.0
    assert mk.window["spec"]["bodies"] == ["-121"]


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")
def test_item13_progressbar_draws_with_tqdm(
    home: Path, spk_tree: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    kdb.get(spk_tree / "MPOT/kernels/mk/cov.tm", progressbar=True, home=home)
    _, err = capfd.readouterr()
    assert "it/s" in err or "B/s" in err or "%|" in err, err
    assert "░" not in err  # kdb's own bar is never copied


# 14 -----------------------------------------------------------------------------


def _no_union_type(tp: object) -> bool:
    if isinstance(tp, types.UnionType):
        return False  # `X | Y`: a TypeError when evaluated on Python 3.9
    return all(_no_union_type(a) for a in typing.get_args(tp))


def test_item14_types_work_on_older_pythons() -> None:
    public = [getattr(kdb, n) for n in kdb.__all__]
    checked = 0
    for obj in public:
        if inspect.isfunction(obj) or (
            isinstance(obj, type) and typing.is_typeddict(obj)
        ):
            hints = typing.get_type_hints(obj)
            for name, tp in hints.items():
                assert _no_union_type(tp), (obj, name, tp)
            checked += 1
    assert checked >= 25
    assert kdb.Time is not None
    hints = typing.get_type_hints(kdb.get)
    assert hints["return"] is kdb.Metakernel


def test_item14_exceptions_module_cmd_and_file_not_found(home: Path, tmp_path: Path) -> None:
    assert kdb.NotFound.__module__ == "kdb" and kdb.KdbError.__module__ == "kdb"
    with pytest.raises(kdb.NotFound) as e:
        kdb.resolve("nope.bsp", home=home)
    assert e.value.cmd[-1] == "nope.bsp" and Path(e.value.cmd[0]).name.startswith("kdb")
    with pytest.raises(FileNotFoundError):
        kdb.restore(tmp_path / "missing.kdb.lock", home=home)
    mk = kdb.get(DEMO_MK.as_uri(), home=home)
    d = tmp_path / "somedir"
    d.mkdir()
    out = kdb.lock(mk, d, home=home)
    assert Path(out).parent == d and Path(out).is_file()


# 15 -----------------------------------------------------------------------------


def test_item15_a_space_in_a_local_path(home: Path, tmp_path: Path) -> None:
    spaced = tmp_path / "sp ace"
    shutil.copytree(DEMO_ROOT, spaced)
    mk = kdb.get(spaced / "pub/naif/DEMO/kernels/mk/demo.tm", home=home)
    assert [e["file_name"] for e in kdb.list(mk, home=home)] == DEMO_ENTRIES
    root = tmp_path / "x"
    (root / "my data").mkdir(parents=True)
    shutil.copytree(DEMO_ROOT / "pub/naif/DEMO/kernels", root / "my data/kernels")
    shutil.copytree(DEMO_ROOT / "pub/naif/generic_kernels", root / "generic_kernels")
    mk2 = kdb.get(str(root / "my data/kernels/mk/demo.tm"), home=home)
    assert "%20" not in mk2 and Path(mk2).is_file()
    assert "my_data" in mk2


# 16 -----------------------------------------------------------------------------


def test_item16_list_groups_its_warnings_and_names_the_file(home: Path, tmp_path: Path) -> None:
    mk = tmp_path / "windows_paths.tm"
    names = [f"C:\\\\K\\\\ck/k{i}.bc" for i in range(40)]
    mk.write_text(
        "KPL/MK\n\\begindata\nKERNELS_TO_LOAD = (\n"
        + "\n".join(f"  '{n}'" for n in names)
        + "\n)\n\\begintext\n"
    )
    with pytest.warns(kdb.KdbWarning) as rec:
        got = kdb.list(mk, home=home)
    assert len(got) == 40
    msgs = [str(w.message) for w in rec]
    assert len(msgs) == 1, msgs
    assert "windows_paths.tm" in msgs[0] and "40" in msgs[0]


# acceptance 2 ---------------------------------------------------------------------


def test_acceptance2_mypy_strict_over_every_public_function(tmp_path: Path) -> None:
    if os.environ.get("KDB_REQUIRE_MYPY") != "1":
        pytest.importorskip("mypy")
    script = Path(__file__).with_name("typing_script.py")
    used = script.read_text()
    for name in kdb.__all__:
        obj = getattr(kdb, name)
        if inspect.isfunction(obj):
            assert f"kdb.{name}(" in used, f"typing_script.py does not call kdb.{name}"
    env = dict(os.environ)
    if os.environ.get("KDB_TEST_WHEEL") != "1":
        env["MYPYPATH"] = PKG_DIR  # a source tree; an installed wheel is found as is
    p = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--cache-dir", str(tmp_path / "mypy-cache"), str(script)],
        capture_output=True, text=True, env=env, cwd=str(tmp_path),
    )
    assert p.returncode == 0, p.stdout + p.stderr


def test_numpy_and_tqdm_are_optional(home: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['numpy'] = None; sys.modules['tqdm'] = None\n"
        "import kdb\n"
        "mk = kdb.get(sys.argv[1], home=sys.argv[2], progressbar=True)\n"
        "print(len(kdb.list(mk, home=sys.argv[2])))\n"
    )
    p = subprocess.run([sys.executable, "-c", code, DEMO_MK.as_uri(), str(home)],
                       capture_output=True, text=True, cwd=PKG_DIR)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(len(DEMO_ENTRIES)) and p.stderr == ""


def test_item13_which_with_nothing_covering_gives_no_winner(home: Path, spk_tree: Path) -> None:
    mk = spk_tree / "MPOT/kernels/mk/cov.tm"
    w = kdb.which(mk, body=-121, at="2030-01-01", home=home)
    assert w["winner"] is None and w["covering"] == []
