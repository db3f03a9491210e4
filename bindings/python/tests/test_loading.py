"""Finding the library: AUTOENC_LIBRARY, the SONAME, build trees; refusing another major."""

import ctypes
import os
import subprocess
import sys
import warnings

import pytest

import autoenc
from autoenc import _lib
from conftest import PACKAGE_ROOT

PROBE = "import autoenc; print(autoenc.library_path); print(autoenc.version_string())"


def run_import(env_changes, code=PROBE):
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOENC_LIBRARY", "AUTOENC_BUILD_DIR")}
    env["PYTHONPATH"] = PACKAGE_ROOT
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)


def real_library():
    return os.path.realpath(autoenc.library_path)


INSTALLED_PROBE = """
import ctypes, sys
try:
    ctypes.CDLL(sys.argv[1])
except OSError:
    sys.exit(3)
with open("/proc/self/maps") as maps:
    paths = {line.split()[-1] for line in maps if "libautoenc" in line}
print(sorted(paths)[0] if paths else sys.argv[1])
"""


def installed_library():
    """The library the loader finds by SONAME alone, if one is installed (asked in a
    fresh process: this one has loaded the build's library under that SONAME)."""
    run = subprocess.run([sys.executable, "-c", INSTALLED_PROBE, _lib.SONAME], capture_output=True,
                         text=True, timeout=60)
    return run.stdout.strip() if run.returncode == 0 else None


def test_autoenc_library_names_the_file():
    run = run_import({"AUTOENC_LIBRARY": autoenc.library_path})
    assert run.returncode == 0, run.stderr
    path, version = run.stdout.split()
    assert os.path.realpath(path) == real_library() and version == autoenc.version_string()


def test_a_missing_autoenc_library_is_an_import_error(tmp_path):
    run = run_import({"AUTOENC_LIBRARY": str(tmp_path / "libautoenc.so.0")})
    assert run.returncode != 0
    assert "ImportError" in run.stderr and "cannot be loaded" in run.stderr


def test_another_major_version_is_refused_saying_what_was_found_where():
    fake = os.environ.get("AUTOENC_TEST_FAKE_LIBRARY_MAJOR")
    if not fake:
        pytest.skip("AUTOENC_TEST_FAKE_LIBRARY_MAJOR is not set (CTest sets it)")
    run = run_import({"AUTOENC_LIBRARY": fake})
    assert run.returncode != 0
    assert "libautoenc 1.3.0 found at %s" % os.path.realpath(fake) in run.stderr
    assert "major version 1" in run.stderr and "needs major version 0" in run.stderr


def test_an_older_minor_version_is_refused():
    fake = os.environ.get("AUTOENC_TEST_FAKE_LIBRARY_OLD")
    if not fake:
        pytest.skip("AUTOENC_TEST_FAKE_LIBRARY_OLD is not set (CTest sets it)")
    run = run_import({"AUTOENC_LIBRARY": fake})
    assert run.returncode != 0 and "0.2.0" in run.stderr and "too old" in run.stderr


def test_a_library_without_the_version_function_is_refused():
    import ctypes.util
    libc = ctypes.util.find_library("c")
    run = run_import({"AUTOENC_LIBRARY": libc})
    assert run.returncode != 0 and "is not libautoenc" in run.stderr


def test_a_build_folder_is_found_through_autoenc_build_dir(tmp_path):
    installed = installed_library()
    build = tmp_path / "build"
    (build / "src").mkdir(parents=True)
    os.symlink(real_library(), build / "src" / _lib.SONAME)
    run = run_import({"AUTOENC_BUILD_DIR": str(build)})
    assert run.returncode == 0, run.stderr
    found = run.stdout.split()[0]
    if installed:  # an installed library comes first
        assert os.path.realpath(found) == os.path.realpath(installed)
    else:
        assert os.path.realpath(found) == real_library()


def test_the_unversioned_name_is_never_loaded(tmp_path):
    if installed_library():
        pytest.skip("an installed libautoenc.so.0 would be found first")
    build = tmp_path / "build"
    (build / "src").mkdir(parents=True)
    os.symlink(real_library(), build / "src" / "libautoenc.so")  # the development link only
    run = run_import({"AUTOENC_BUILD_DIR": str(build)}, "import autoenc._lib as l; print(l.path)")
    if run.returncode == 0:  # found elsewhere (the checkout's build/src): never the bare name
        assert not run.stdout.strip().endswith("libautoenc.so")
    else:
        assert "was not found" in run.stderr and "Tried:" in run.stderr
    for candidate in _lib._install_candidates() + _lib._build_tree_candidates():
        assert os.path.basename(candidate) == _lib.SONAME


def test_every_function_has_its_signature_from_the_one_table():
    assert len(_lib.FUNCTIONS) == len({name for name, _, _ in _lib.FUNCTIONS})
    for name, restype, argtypes in _lib.FUNCTIONS + _lib.OPTIONAL_FUNCTIONS:
        if not _lib.has(name):
            continue  # an optional function of a newer library
        fn = getattr(_lib.lib, name)
        assert fn.restype is restype and list(fn.argtypes) == list(argtypes), name
    # the table covers every exported function the package binds (all but the allocator
    # hook, which cannot be served from Python: it is called from any thread, without the GIL)
    bound = set(_lib.FUNCTIONS_NOT_BOUND) | {name for name, _, _ in _lib.FUNCTIONS + _lib.OPTIONAL_FUNCTIONS}
    symbols = os.path.join(PACKAGE_ROOT, "..", "..", "tests", "abi", "exported-symbols.txt")
    if os.path.exists(symbols):
        with open(symbols) as f:
            listed = {line.strip() for line in f if line.strip()}
        assert {name for name, _, _ in _lib.FUNCTIONS} <= listed
        newer = sorted(listed - bound)
        if newer:  # functions added to the library after this package: bind them
            warnings.warn("libautoenc exports functions the package does not bind yet: %s"
                          % ", ".join(newer))


def test_the_library_is_loaded_with_cdll_so_calls_release_the_gil():
    assert type(_lib.lib) is ctypes.CDLL
    assert not isinstance(_lib.lib, ctypes.PyDLL)
