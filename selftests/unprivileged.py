"""What the unprivileged self-test needs to run the suite as nobody from any clone root can run.

A clone may sit in a folder nobody cannot enter (under /root, in a `mktemp -d` folder, which is 0700), and so may
the venv. The self-test therefore gives nobody its own readable copy of the checkout's files and of the venv's
site-packages, in a temporary folder of nobody's own inside one every user can enter. Files are hard-linked where
that is safe (same filesystem, readable by others and not writable by them) and copied otherwise; the user's own
files and folders keep their permissions. A precondition that cannot be met is reported as a reason, for a skip
that names what is missing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

USER = "nobody"
# Folders of a checkout that is not a git repository which nobody's copy leaves out.
NOT_SOURCE = {".git", ".venv", "__pycache__", ".ruff_cache", ".sandbox", "reports", "preflight.egg-info"}


@dataclass
class Copied:
    """How a readable copy was made: files hard-linked to the original, and files copied."""

    linked: int = 0
    copied: int = 0
    reasons: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        why = f" ({'; '.join(sorted(self.reasons))})" if self.reasons else ""
        return f"{self.linked} linked, {self.copied} copied{why}"


def nobody() -> pwd.struct_passwd | str:
    """The user to run as, or why there is none."""
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed, so the suite cannot be started as nobody"
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        return f"there is no user {USER!r} on this machine"


def as_user(user: pwd.struct_passwd, argv: list[str]) -> list[str]:
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--", *argv]


# setpriv still holds root's capabilities when it executes the command, so a Python in a folder closed to the user
# may start (with the system's libpython, its own being unreadable) and then fail to run sys.executable again, as the
# sandbox does. The probe asks the started interpreter.
PROBE = "import os, sys; print('%d.%d' % sys.version_info[:2], os.access(sys.executable, os.X_OK))"


def python_for(user: pwd.struct_passwd) -> str:
    """A Python the user can run whose minor version is the venv's (its packages are built for it).

    Raises LookupError naming every candidate tried and why it does not fit.
    """
    wanted = "{}.{}".format(*sys.version_info[:2])
    base = getattr(sys, "_base_executable", sys.executable)
    candidates = [os.path.realpath(base), f"/usr/bin/python{wanted}", f"/usr/local/bin/python{wanted}"]
    candidates += ["/usr/bin/python3"]
    tried = []
    for candidate in dict.fromkeys(candidates):
        if not Path(candidate).is_file():
            tried.append(f"{candidate}: missing")
            continue
        probe = subprocess.run(
            as_user(user, [candidate, "-I", "-c", PROBE]),
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        found, _, runnable = probe.stdout.strip().partition(" ")
        if probe.returncode == 0 and found == wanted and runnable == "True":
            return candidate
        if probe.returncode != 0:
            problem = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
        else:
            problem = f"Python {found}" if found != wanted else f"{user.pw_name} cannot execute it again (its folder)"
        tried.append(f"{candidate}: {problem}")
    found_none = f"no Python {wanted} (the venv's packages are built for it) that {user.pw_name} can run"
    raise LookupError(f"{found_none}: {'; '.join(tried)}")


def site_packages() -> list[Path]:
    """The folders the venv's packages are installed in (purelib and platlib may differ)."""
    paths = sysconfig.get_paths()
    return [Path(p) for p in dict.fromkeys([paths["purelib"], paths["platlib"]]) if Path(p).is_dir()]


def checkout_files(root: Path) -> list[Path]:
    """The checkout's source: tracked files and untracked ones git does not ignore, as they are in the work tree."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return _walk(root, skip=NOT_SOURCE)
    names = dict.fromkeys(name for name in listed.decode().split("\0") if name)
    return [Path(name) for name in names if (root / name).is_file() or (root / name).is_symlink()]


def _walk(root: Path, skip: Iterable[str] = ()) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        found += [Path(folder, name).relative_to(root) for name in files]
        found += [Path(folder, name).relative_to(root) for name in dirs if Path(folder, name).is_symlink()]
    return found


def readable_copy(source: Path, target: Path, files: Iterable[Path] | None = None) -> Copied:
    """Copy files (relative to source; default: all of them) into target so that anyone can read them.

    A hard link shares the original's inode, mode included: only a file others may read but not write is linked.
    """
    done = Copied()
    for relative in _walk(source) if files is None else files:
        origin, copy = source / relative, target / relative
        _make_folders(target, copy.parent)
        if origin.is_symlink():
            os.symlink(os.readlink(origin), copy)
            continue
        mode = origin.stat().st_mode
        if mode & (stat.S_IROTH | stat.S_IWOTH) == stat.S_IROTH:
            try:
                os.link(origin, copy)
                done.linked += 1
                continue
            except OSError as exc:
                done.reasons.add(f"cannot link: {exc.strerror}")
        else:
            done.reasons.add("some files are not readable by others")
        shutil.copyfile(origin, copy)
        copy.chmod(0o755 if mode & stat.S_IXUSR else 0o644)
        done.copied += 1
    return done


def _make_folders(top: Path, folder: Path) -> None:
    """Create folder and its parents up to top, each one 0755 whatever the umask."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder == top:
            break
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
        path.chmod(0o755)


def traversable_temp() -> Path | str:
    """A temporary folder every user can enter (TMPDIR may point into /root), or why there is none."""
    for candidate in dict.fromkeys([tempfile.gettempdir(), "/tmp"]):
        path = Path(candidate).resolve()
        if path.is_dir() and all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents)):
            return path
    return f"no temporary folder every user can enter ({tempfile.gettempdir()} is not)"
