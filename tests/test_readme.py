"""The README is the newcomer's manual: every setting the code reads is in its table."""

from pathlib import Path

import pytest

from vasguard.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(name):
    assert f"`VASGUARD_{name.upper()}`" in README
