"""atomic_write: concurrent writers of one file never break each other."""

from __future__ import annotations

import threading
from pathlib import Path

from app.storage.files import atomic_write


def test_threads_writing_the_same_file_never_race_on_the_temp_name(tmp_path: Path) -> None:
    target = tmp_path / "thumbs" / "ab" / "abc.jpg"
    payloads = [bytes([i]) * 50_000 for i in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(payloads))

    def writer(data: bytes) -> None:
        start.wait()
        try:
            for _ in range(100):
                atomic_write(target, data)
        except BaseException as e:  # collected, asserted below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_bytes() in payloads, "one whole write, never a mix"
    assert [p.name for p in target.parent.iterdir()] == ["abc.jpg"], "no temp file left behind"
