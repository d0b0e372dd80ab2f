"""Portrait: user portraits (用户画像) for e-commerce operations teams."""

from __future__ import annotations

from portrait.workspace import Workspace, init_workspace, open_workspace

__version__ = "0.1.0"

__all__ = ["Workspace", "__version__", "init_workspace", "open_workspace"]
