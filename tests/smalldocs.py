"""Three small documents (two public, one internal) and the calls that write and index them.

For tests that build their own index and watch what the dense lane asks Chroma
(tests/test_facets.py, tests/test_shadows.py).
"""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import Ingestor

PUBLIC_VI = """---
id: vi-public-mangrove
title: Rừng ngập mặn Cần Giờ
lang: vi
visibility: public
---
# Rừng ngập mặn Cần Giờ

Khu dự trữ sinh quyển rừng ngập mặn Cần Giờ được UNESCO công nhận năm 2000. Rừng ngập mặn hấp thụ
carbon và bảo vệ bờ biển khỏi xói lở.
"""

PUBLIC_JA = """---
id: ja-public-heat
title: 堺市のヒートアイランド対策
lang: ja
visibility: public
---
# ヒートアイランド対策

堺市は、屋上緑化と保水性舗装によってヒートアイランド現象の緩和に取り組んでいる。
"""

INTERNAL_VI = """---
id: vi-internal-vault
title: Ghi chú nội bộ kho VELVETORCHID
lang: vi
visibility: internal
---
# Ghi chú nội bộ

Mã kho hồ sơ rừng ngập mặn Cần Giờ là VELVETORCHID, chỉ dành cho cán bộ của Sở.
"""

QUESTION = "Mã kho hồ sơ rừng ngập mặn Cần Giờ VELVETORCHID là gì?"


def write_doc(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def ingest(config, *paths: Path) -> None:
    ingestor = Ingestor(config, progress=False)
    try:
        assert ingestor.run(list(paths)).failed == []
    finally:
        ingestor.close()
