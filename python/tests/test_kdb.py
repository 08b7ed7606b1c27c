"""The kdb Python API against the real binary (the one the wheel installed when run by
scripts/test_python.sh). CSPICE through SpiceyPy is the oracle for what loads."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import kdb
import pytest
from conftest import DEMO_ENTRIES, DEMO_MK, DEMO_ROOT, REPO, under_pty


def _spiceypy():
    try:
        import spiceypy
    except ImportError:
        if os.environ.get("KDB_REQUIRE_CSPICE") == "1":
            pytest.fail("KDB_REQUIRE_CSPICE=1 but spiceypy cannot be imported")
        pytest.skip(
            "spiceypy not installed (set KDB_REQUIRE_CSPICE=1 to make this fail)"
        )
    return spiceypy


def _cargo_version() -> str:
    text = (REPO / "Cargo.toml").read_text()
    package = text.split("[package]", 1)[1].split("\n[", 1)[0]
    m = re.search(r'^version\s*=\s*"([^"]+)"', package, re.MULTILINE)
    assert m, "no version in Cargo.toml [package]"
    return m.group(1)


def _subcommands() -> set[str]:
    out = subprocess.run(
        [str(kdb.find_binary()), "help"], capture_output=True, text=True, check=True
    ).stdout
    names = set()
    in_commands = False
    for line in out.splitlines():
        if line.strip() == "Commands:":
            in_commands = True
            continue
        if in_commands:
            if not line.startswith("  "):
                break
            names.add(line.split()[0])
    assert "get" in names, f"cannot read kdb's command list:\n{out}"
    return names


# --- get, and the metakernel CSPICE loads ------------------------------------------


def test_get_demo_loads_in_cspice_from_an_unrelated_directory(
    demo_url: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spice = _spiceypy()
    mk = Path(kdb.get(demo_url, home=home))
    assert mk.is_absolute() and mk.is_file()
    assert mk.resolve().is_relative_to(home.resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spice.kclear()
    try:
        spice.furnsh(str(mk))
        loaded = spice.ktotal("ALL")
        files = [spice.kdata(i, "ALL")[0] for i in range(loaded)]
    finally:
        spice.kclear()
    assert loaded == len(DEMO_ENTRIES) + 1, files
    assert [Path(f).name for f in files[1:]] == DEMO_ENTRIES


def test_get_twice_returns_the_same_metakernel(demo_url: str, home: Path) -> None:
    first = kdb.get(demo_url, home=home)
    assert kdb.get(demo_url, home=home) == first
    assert kdb.get(Path(DEMO_MK), home=home) == first  # a local path is sent as file://


def test_home_defaults_to_kdb_home(
    demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_home = tmp_path / "from-env"
    monkeypatch.setenv("KDB_HOME", str(env_home))
    mk = Path(kdb.get(demo_url))
    assert mk.resolve().is_relative_to(env_home.resolve())
    assert Path(kdb.resolve("demo_pck_v01.tpc")).resolve().is_relative_to(env_home.resolve())


def test_get_over_http_and_force(http_demo: tuple[str, Path], home: Path) -> None:
    base, _ = http_demo
    mk = kdb.get(f"{base}/pub/naif/DEMO/kernels/mk/demo.tm", home=home)
    assert Path(mk).is_file()
    assert (
        kdb.get(f"{base}/pub/naif/DEMO/kernels/mk/demo.tm", home=home, force=True) == mk
    )


def test_get_draws_nothing_on_stderr_when_it_is_not_a_terminal(
    demo_url: str, home: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    kdb.get(demo_url, home=home)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")
def test_get_with_a_terminal_as_stderr(demo_url: str, home: Path) -> None:
    """The pseudo-terminal path: kdb's stderr is a terminal, ours gets its output."""
    code = "import kdb, sys; print(kdb.get(sys.argv[1], home=sys.argv[2]))"
    rc, out = under_pty(code, demo_url, str(home))
    assert rc == 0
    assert Path(out.strip()).is_file()


# --- list, resolve, aliases -----------------------------------------------------


def test_list_gives_the_entries_in_load_order(demo_url: str, home: Path) -> None:
    mk = kdb.get(demo_url, home=home)
    entries = kdb.list(mk, home=home)
    assert [e["file_name"] for e in entries] == DEMO_ENTRIES
    assert [e["kernel_type"] for e in entries] == ["lsk", "lsk", "pck", "fk"]
    assert all(Path(e["path"]).is_file() for e in entries)
    assert [e["file_name"] for e in kdb.list(mk, kernel_type="pck", home=home)] == [
        "demo_pck_v01.tpc"
    ]
    # the source metakernel, relative entries and all, lists the same names
    assert [e["file_name"] for e in kdb.list(DEMO_MK, home=home)] == DEMO_ENTRIES


def test_resolve_gives_a_local_copy_with_the_published_bytes(
    demo_url: str, home: Path
) -> None:
    kdb.get(demo_url, home=home)
    p = Path(kdb.resolve("demo_pck_v01.tpc", home=home))
    assert p.is_absolute()
    src = DEMO_ROOT / "pub/naif/DEMO/kernels/pck/demo_pck_v01.tpc"
    assert p.read_bytes() == src.read_bytes()
    assert kdb.resolve("demo_pck_v01.tpc", mission="DEMO", home=home) == str(p)


def test_aliases_knows_both_names_of_one_content(demo_url: str, home: Path) -> None:
    kdb.get(demo_url, home=home)
    src = DEMO_ROOT / "pub/naif/generic_kernels/lsk/demo_leapseconds.tls"
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    a = kdb.aliases("demo_leapseconds.tls", home=home)
    assert a["sha256"] == sha
    assert a["size"] == src.stat().st_size
    assert {"demo_leapseconds.tls", "demo_lsk_v01.tls"} <= set(a["aliases"])
    assert kdb.aliases(sha[:8], home=home)["sha256"] == sha
    assert kdb.aliases("demo_lsk_v01.tls", home=home)["sha256"] == sha


# --- each error class from a real failure ----------------------------------------


def test_unknown_name_is_not_found(demo_url: str, home: Path) -> None:
    kdb.get(demo_url, home=home)
    with pytest.raises(kdb.NotFound) as e:
        kdb.resolve("no_such_kernel.bsp", home=home)
    assert e.value.code == 1 and "no_such_kernel.bsp" in e.value.message
    with pytest.raises(kdb.NotFound):
        kdb.aliases("no_such_kernel.bsp", home=home)


def test_no_catalogue_yet_is_not_found(home: Path) -> None:
    with pytest.raises(kdb.NotFound):
        kdb.resolve("naif0012.tls", home=home)


def test_unreachable_server_is_network(home: Path, refused_port: int) -> None:
    with pytest.raises(kdb.Network) as e:
        kdb.get(f"http://127.0.0.1:{refused_port}/x.tm", mission="DEMO", home=home)
    assert e.value.code == 6
    assert f"127.0.0.1:{refused_port}" in e.value.message


def test_404_on_a_loopback_server_is_not_found(
    http_demo: tuple[str, Path], home: Path
) -> None:
    base, _ = http_demo
    with pytest.raises(kdb.NotFound) as e:
        kdb.get(f"{base}/pub/naif/DEMO/kernels/mk/missing.tm", home=home)
    assert e.value.code == 1 and "missing.tm" in e.value.message


def test_bad_argument_is_usage(demo_url: str, home: Path) -> None:
    with pytest.raises(kdb.Usage) as e:
        kdb.list(DEMO_MK, kernel_type="nonsense", home=home)
    assert e.value.code == 2 and "nonsense" in e.value.message
    assert not isinstance(e.value, kdb.Unsupported)


def test_malformed_metakernel_is_usage(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tm"
    bad.write_text("KPL/MK\n\\begindata\nKERNELS_TO_LOAD == ( 'a.bsp' )\n\\begintext\n")
    with pytest.raises(kdb.Usage) as e:
        kdb.list(bad, home=home)
    assert "bad.tm" in e.value.message and "line 3, column 18" in e.value.message


def test_what_furnsh_would_ignore_is_a_warning(home: Path, tmp_path: Path) -> None:
    mk = tmp_path / "open.tm"
    mk.write_text("KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'a.bsp'\n")
    with pytest.warns(kdb.KdbWarning, match="KERNELS_TO_LOAD"):
        assert kdb.list(mk, home=home) == []


def test_lock_held_by_another_process_is_busy(
    demo_url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fcntl = pytest.importorskip("fcntl")
    del fcntl
    home.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, sys\n"
                "f = open(sys.argv[1], 'a')\n"
                "fcntl.flock(f, fcntl.LOCK_EX)\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n"
            ),
            str(home / ".lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert (
            holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        )
        monkeypatch.setenv("KDB_LOCK_TIMEOUT", "0")
        with pytest.raises(kdb.Busy) as e:
            kdb.get(demo_url, home=home)
        assert e.value.code == 5
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()
    assert Path(kdb.get(demo_url, home=home)).is_file()  # released: works again


def test_a_failed_kernel_is_partial_with_the_report(
    http_demo: tuple[str, Path], home: Path
) -> None:
    base, root = http_demo
    (root / "pub/naif/DEMO/kernels/pck/demo_pck_v01.tpc").unlink()
    with pytest.raises(kdb.Partial) as e:
        kdb.get(f"{base}/pub/naif/DEMO/kernels/mk/demo.tm", home=home)
    assert e.value.code == 3
    assert [f["name"] for f in e.value.report["failed"]] == ["demo_pck_v01.tpc"]
    assert "demo_pck_v01.tpc" in e.value.message


def test_a_metakernel_gone_from_the_server_is_gone(
    http_demo: tuple[str, Path], home: Path
) -> None:
    from kdb._process import run

    base, root = http_demo
    kdb.get(f"{base}/pub/naif/DEMO/kernels/mk/demo.tm", home=home)
    (root / "pub/naif/DEMO/kernels/mk/demo.tm").unlink()
    with pytest.raises(kdb.Gone) as e:
        run(["update", "demo.tm", "-y", "--json"], home=home)
    assert e.value.code == 4


def test_every_error_is_a_kdb_error() -> None:
    for cls in (kdb.NotFound, kdb.Usage, kdb.Partial, kdb.Gone, kdb.Busy, kdb.Network):
        assert issubclass(cls, kdb.KdbError)
    assert issubclass(kdb.Unsupported, kdb.Usage)


# --- commands of issues 9, 11 and 12: real when the binary has them ---------------


def test_window_needs_a_kdb_with_windowed_get(demo_url: str, home: Path) -> None:
    helptext = subprocess.run(
        [str(kdb.find_binary()), "get", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    window = ("2020-01-01T00:00:00", "2020-01-02T00:00:00")
    if "--from" in helptext:
        # text kernels are always taken
        mk = kdb.get(demo_url, window=window, home=home)
        assert [e["file_name"] for e in kdb.list(mk, home=home)] == DEMO_ENTRIES
    else:
        with pytest.raises(kdb.Unsupported) as e:
            kdb.get(demo_url, window=window, home=home)
        assert "--from" in str(e.value)


def test_coverage_lock_restore_need_their_commands(
    demo_url: str, home: Path, tmp_path: Path
) -> None:
    have = _subcommands()
    mk = kdb.get(demo_url, home=home)
    if "coverage" in have:
        cov = kdb.coverage(mk=mk, home=home)
        assert cov["kernels"] == []  # the demo has text kernels only
    else:
        with pytest.raises(kdb.Unsupported):
            kdb.coverage(mk=mk, home=home)
    lockfile = tmp_path / "demo.kdb.lock"
    if "lock" in have and "restore" in have:
        assert kdb.lock(mk, lockfile, home=home) == str(lockfile.resolve())
        restored = kdb.restore(lockfile, home=tmp_path / "fresh-home")
        assert [
            e["file_name"] for e in kdb.list(restored, home=tmp_path / "fresh-home")
        ] == (DEMO_ENTRIES)
    else:
        with pytest.raises(kdb.Unsupported):
            kdb.lock(mk, lockfile, home=home)
        with pytest.raises(kdb.Unsupported):
            kdb.restore(lockfile, home=home)


# --- the wheel: version, binary, python -m kdb ------------------------------------


def test_version_is_the_crates(home: Path) -> None:
    want = _cargo_version()
    out = subprocess.run(
        [str(kdb.find_binary()), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == f"kdb {want}"
    assert kdb.version() == want
    if os.environ.get("KDB_TEST_WHEEL") == "1":
        assert kdb.__version__ == want


def test_the_wheels_binary_is_the_one_run() -> None:
    if os.environ.get("KDB_TEST_WHEEL") != "1":
        pytest.skip("only when testing an installed wheel (KDB_TEST_WHEEL=1)")
    assert "KDB_BINARY" not in os.environ
    scripts = Path(sysconfig.get_path("scripts"))
    assert kdb.find_binary() == scripts / ("kdb.exe" if os.name == "nt" else "kdb")
    assert (Path(kdb.__file__).parent / "py.typed").is_file()


def test_kdb_binary_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = kdb.find_binary()
    monkeypatch.setenv("KDB_BINARY", str(real))
    assert kdb.find_binary() == real
    monkeypatch.setenv("KDB_BINARY", str(tmp_path / "nope"))
    with pytest.raises(kdb.KdbError) as e:
        kdb.find_binary()
    assert "KDB_BINARY" in str(e.value)


def test_python_m_kdb_runs_the_cli(home: Path) -> None:
    cwd = str(Path(kdb.__file__).parents[1])
    v = subprocess.run(
        [sys.executable, "-m", "kdb", "--version"],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    assert v.returncode == 0 and v.stdout.strip() == f"kdb {_cargo_version()}"
    nf = subprocess.run(
        [sys.executable, "-m", "kdb", "--home", str(home), "resolve", "x.bsp"],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    assert nf.returncode == 1 and nf.stderr.startswith("error:")
