import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """No test writes to the real per-user folder."""
    home = tmp_path_factory.mktemp("gdd_home")
    monkeypatch.setenv("GDD_STUDIO_HOME", str(home))
    return home
