"""Prompts are versioned files; the loader picks the newest or a pinned version and refuses mismatches."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompts import available, load_prompt, parse_pins


def test_shipped_prompts_load_and_render() -> None:
    assert {"judge", "explain"} <= set(available())
    for name in ("judge", "explain"):
        p = load_prompt(name)
        assert p.ref.startswith(f"{name}@v{p.version}#") and len(p.sha256) == 64
        system, user = p.render(profile="peg", decision_id="dec_1", evidence="{}", event_data="{}", feedback="",
                                verdict="null")
        assert "<event_data>" in user and "untrusted" in system.lower()
        assert "$" not in user


def test_pinned_and_newest_versions(tmp_path: Path) -> None:
    for v in (1, 2):
        (tmp_path / f"judge.v{v}.yaml").write_text(f"name: judge\nversion: {v}\nsystem: s{v}\nuser: u $x\n")
    assert load_prompt("judge", directory=tmp_path).system == "s2"
    assert load_prompt("judge", 1, tmp_path).system == "s1"
    assert parse_pins("judge=1, explain=v2") == {"judge": 1, "explain": 2}
    with pytest.raises(FileNotFoundError):
        load_prompt("judge", 3, tmp_path)
    (tmp_path / "judge.v3.yaml").write_text("name: judge\nversion: 2\nsystem: s\nuser: u\n")
    with pytest.raises(ValueError, match="do not match"):
        load_prompt("judge", 3, tmp_path)
    with pytest.raises(KeyError):
        load_prompt("judge", 1, tmp_path).render()
