"""The recording bench, run small: only the recorded sitting leaves captures, and each one
becomes audio."""

from __future__ import annotations

from pathlib import Path

from bench import recording


def test_a_small_sitting_records_every_call_and_reports_it(tmp_path: Path) -> None:
    sitting = recording.run(calls=2, seconds=1.0, folder=tmp_path)
    # Only the recorded sitting left captures: one WAV per call, none for the plain one.
    assert len(list(tmp_path.glob("call-*.wav"))) == 2
    # Each WAV: the prompt, then what followed it of a second of media, so about a second
    # or the prompt's length, whichever is longer.
    assert 2 * 1.0 <= sitting.audio_s <= 2 * 2.5
    text = recording.report(sitting)
    assert "| rtpengine relaying and writing the capture |" in text
    assert "2 calls at once" in text
