"""Virtual environments of the peer systems and tools, under build/bench-venvs.

Each is made with the running interpreter's `venv` module and filled by pip
from PyPI, so the peers never share packages with the hub's environment.
"""

import subprocess
import sys
from pathlib import Path

VENV_ROOT = Path(__file__).resolve().parent.parent / "build" / "bench-venvs"

# Versions are pinned so that reruns compare the same peers. Salt 3007.17
# needs certifi>=2026.10.23, which the package index here does not have.
REQUIREMENTS = {
    "celery": ["celery[redis]==5.5.3"],
    # The salt 3007.13 distribution on the package index declares no
    # dependencies, so its runtime requirements are listed here.
    "salt": [
        "salt==3007.13",
        "PyYAML",
        "Jinja2",
        "MarkupSafe",
        "msgpack",
        "pyzmq",
        "tornado",
        "distro",
        "psutil",
        "packaging",
        "looseversion",
        "pycryptodomex",
        "requests",
        "cryptography",
        "jmespath",
        "aiohttp",
        "certifi",
    ],
    "tools": ["py-spy==0.4.3"],
}


class VenvError(RuntimeError):
    """A bench virtual environment could not be created or filled."""


def venv_dir(name: str) -> Path:
    return VENV_ROOT / name


def python_of(name: str) -> Path:
    return venv_dir(name) / "bin" / "python"


def tool_path(tool: str) -> Path:
    path = venv_dir("tools") / "bin" / tool
    if not path.exists():
        ensure("tools")
    return path


def is_ready(name: str) -> bool:
    return (venv_dir(name) / ".bench-ready").exists()


def ensure(name: str) -> Path:
    """Create and fill venv `name` unless it is ready; return its python.

    Raises VenvError with pip's output when creation or installation fails.
    """
    if name not in REQUIREMENTS:
        raise VenvError(f"unknown bench venv {name!r}; known: {sorted(REQUIREMENTS)}")
    directory = venv_dir(name)
    marker = directory / ".bench-ready"
    if marker.exists():
        return python_of(name)
    directory.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(directory)],
        [str(python_of(name)), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [str(python_of(name)), "-m", "pip", "install", "-q", *REQUIREMENTS[name]],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise VenvError(
                f"{' '.join(step)} failed with exit code {done.returncode}:\n"
                f"{(done.stdout + done.stderr)[-4000:]}"
            )
    marker.write_text(" ".join(REQUIREMENTS[name]) + "\n")
    return python_of(name)


if __name__ == "__main__":
    for venv_name in sys.argv[1:] or sorted(REQUIREMENTS):
        print(venv_name, ensure(venv_name))
