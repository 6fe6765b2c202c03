"""The readable copy the unprivileged self-test gives nobody: links where that is safe, copies otherwise."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from selftests.unprivileged import readable_copy


def test_a_file_others_may_read_is_linked_and_a_private_one_copied(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    (source / "pkg" / "private").mkdir(parents=True)
    (source / "pkg").chmod(0o700)
    (source / "pkg" / "shared.py").write_text("shared = 1\n")
    (source / "pkg" / "shared.py").chmod(0o644)
    (source / "pkg" / "private" / "secret.py").write_text("secret = 1\n")
    (source / "pkg" / "private" / "secret.py").chmod(0o600)
    (source / "pkg" / "tool").write_text("#!/bin/sh\n")
    (source / "pkg" / "tool").chmod(0o700)
    (source / "pkg" / "alias.py").symlink_to("shared.py")

    copied = readable_copy(source, target)

    assert (copied.linked, copied.copied) == (1, 2), copied
    assert os.path.samefile(source / "pkg" / "shared.py", target / "pkg" / "shared.py")
    assert stat.S_IMODE((target / "pkg" / "private" / "secret.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((target / "pkg" / "tool").stat().st_mode) == 0o755
    assert os.readlink(target / "pkg" / "alias.py") == "shared.py"
    for folder in (target, target / "pkg", target / "pkg" / "private"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((source / "pkg").stat().st_mode) == 0o700, "the original's folders keep their permissions"
    assert stat.S_IMODE((source / "pkg" / "private" / "secret.py").stat().st_mode) == 0o600


def test_a_file_others_may_write_is_copied_not_linked(tmp_path: Path) -> None:
    """nobody could write through a link into the original."""
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "open.py").write_text("x = 1\n")
    (tmp_path / "source" / "open.py").chmod(0o666)

    copied = readable_copy(tmp_path / "source", tmp_path / "target")

    assert (copied.linked, copied.copied) == (0, 1)
    assert not os.path.samefile(tmp_path / "source" / "open.py", tmp_path / "target" / "open.py")
    assert stat.S_IMODE((tmp_path / "target" / "open.py").stat().st_mode) == 0o644
