import hashlib
from pathlib import Path

from ml.fingerprints import file_sha256


def test_it_hashes_a_file_with_sha256(tmp_path: Path) -> None:
    path = tmp_path / "weights.npz"
    path.write_bytes(b"alice" * 500_000)
    assert file_sha256(path) == hashlib.sha256(b"alice" * 500_000).hexdigest()
