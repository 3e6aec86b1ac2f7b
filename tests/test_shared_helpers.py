"""The package's small shared rules: atomic file writes, block shapes, sizes and durations."""
import os

import pytest

from sparsewave._atomic import atomic_write
from sparsewave._blocks import format_block, parse_block
from sparsewave._format import format_bytes, format_duration


def _names(d):
    return sorted(p.name for p in d.iterdir())


def test_atomic_write_publishes_with_normal_mode(tmp_path):
    target = tmp_path / "f.bin"
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".tmp") and not target.exists()
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and _names(tmp_path) == ["f.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    target.chmod(0o640)
    with atomic_write(target) as tmp:
        tmp.write_bytes(b"newer")
    assert target.read_bytes() == b"newer" and target.stat().st_mode & 0o777 == 0o640  # mode kept


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_atomic_write_failure_keeps_the_old_file(tmp_path, exc):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(type(exc)):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"partial")
            raise exc
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["f.bin"]


def test_parse_block():
    assert parse_block("4x4") == (4, 4) and parse_block("16X1") == (16, 1) and parse_block((8, 2)) == (8, 2)
    assert parse_block([16, 1], supported=((4, 4), (16, 1))) == (16, 1)
    assert format_block((16, 1)) == "16x1"
    with pytest.raises(ValueError, match="look like '4x4'"):
        parse_block("four")
    with pytest.raises(ValueError, match="two sizes"):
        parse_block("4x4x4")
    with pytest.raises(ValueError, match="positive"):
        parse_block("0x4")
    with pytest.raises(TypeError, match="pair"):
        parse_block(4)
    with pytest.raises(ValueError, match="unsupported block 8x8; supported: 4x4, 16x1"):
        parse_block("8x8", supported=((4, 4), (16, 1)))


def test_formats():
    assert format_bytes(None) == "n/a" and format_bytes(512) == "512 B" and format_bytes(1536) == "1.50 KiB"
    assert format_bytes(3 << 30) == "3.00 GiB"
    assert format_duration(59.6) == "1:00" and format_duration(3725) == "1:02:05" and format_duration(-3) == "0:00"
