"""Where the notebooks run (Colab, Kaggle or a machine of one's own) and where a run survives there.

Colab's virtual machine, its disk included, is gone after a disconnect; Google Drive, once
mounted at ``/content/drive``, is not. So on Colab with Drive mounted the workspace (the notebooks'
``output_dir``, checkpoints included) defaults to a folder on Drive, and ``resume_from_checkpoint=True``
continues a run after a reconnect. Kaggle keeps ``/kaggle/working`` for the session (and saves it with
a committed version), so the workspace goes there.

This module also holds the one repository URL that the notebooks' badges and install cells use
(``tests/test_platforms.py`` checks every notebook against it). Nothing here imports torch.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = [
    "REPO",
    "REPO_URL",
    "PACKAGE",
    "INSTALL_SPEC",
    "COLAB_BADGE",
    "KAGGLE_BADGE",
    "DRIVE_MYDRIVE",
    "DRIVE_FOLDER",
    "COLAB_LOCAL",
    "KAGGLE_WORKING",
    "DRIVE_WORKSPACE_ENV",
    "badges",
    "in_colab",
    "in_kaggle",
    "hosted",
    "drive_workspace",
    "hosted_workspace",
]

REPO = "nlp-course-companion/nlp-course-companion"
REPO_URL = f"https://github.com/{REPO}"
PACKAGE = "nlp-course-companion"
INSTALL_SPEC = f"{PACKAGE} @ git+{REPO_URL}"

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
KAGGLE_BADGE = "https://kaggle.com/static/images/open-in-kaggle.svg"

# Where Colab mounts Drive (`google.colab.drive.mount("/content/drive")`) and our folder on it.
DRIVE_MYDRIVE = Path("/content/drive/MyDrive")
DRIVE_FOLDER = PACKAGE
COLAB_LOCAL = Path("/content")
KAGGLE_WORKING = Path("/kaggle/working")
# "0" keeps the workspace on Colab's local disk; a path puts it there instead of MyDrive/<DRIVE_FOLDER>.
DRIVE_WORKSPACE_ENV = "COURSE_DRIVE_WORKSPACE"


def _colab_url(notebook: str) -> str:
    """The *Open in Colab* link of a notebook path inside the repository (``notebooks/01_….ipynb``)."""
    return f"https://colab.research.google.com/github/{REPO}/blob/main/{notebook}"


def _kaggle_url(notebook: str) -> str:
    """The *Open in Kaggle* link: Kaggle imports a notebook from its GitHub URL."""
    return f"https://kaggle.com/kernels/welcome?src={REPO_URL}/blob/main/{notebook}"


def badges(notebook: str) -> str:
    """The markdown line of both badges, as the first line of every notebook."""
    return (f"[![Open In Colab]({COLAB_BADGE})]({_colab_url(notebook)}) "
            f"[![Open In Kaggle]({KAGGLE_BADGE})]({_kaggle_url(notebook)})")


def in_colab() -> bool:
    """Colab is detected by its module, as Colab's own docs recommend."""
    return "google.colab" in sys.modules


def in_kaggle() -> bool:
    """Kaggle sets ``KAGGLE_KERNEL_RUN_TYPE`` (``Interactive`` or ``Batch``) in every notebook kernel."""
    return bool(os.environ.get("KAGGLE_KERNEL_RUN_TYPE"))


def hosted() -> bool:
    """True on a hosted notebook service (Colab or Kaggle), where ``auto`` picks the ``colab`` sizes."""
    return in_colab() or in_kaggle()


def drive_workspace(profile_name: str, mydrive: str | os.PathLike | None = None) -> Path | None:
    """On Colab, the workspace folder on Google Drive, or None (with a one-line note) where Drive is
    not mounted or ``COURSE_DRIVE_WORKSPACE=0`` asks to stay on the local disk."""
    if not in_colab():
        return None
    setting = os.environ.get(DRIVE_WORKSPACE_ENV, "").strip()
    if setting == "0":
        return None
    if setting:
        return Path(setting).expanduser() / f"workspace-{profile_name}"
    root = Path(mydrive) if mydrive is not None else DRIVE_MYDRIVE
    if not root.is_dir():
        print(f"Google Drive is not mounted: runs stay on this Colab machine and are lost at a disconnect "
              f"(to keep them: from google.colab import drive; drive.mount('/content/drive'), then rerun)")
        return None
    return root / DRIVE_FOLDER / f"workspace-{profile_name}"


def hosted_workspace(profile_name: str, mydrive: str | os.PathLike | None = None) -> Path | None:
    """The default workspace on Colab (Drive if mounted, else ``/content``) or Kaggle
    (``/kaggle/working``); None elsewhere, where the project's own ``runs/`` folder is used."""
    if in_colab():
        on_drive = drive_workspace(profile_name, mydrive)
        return on_drive if on_drive is not None else COLAB_LOCAL / DRIVE_FOLDER / f"workspace-{profile_name}"
    if in_kaggle():
        return KAGGLE_WORKING / DRIVE_FOLDER / f"workspace-{profile_name}"
    return None
