"""BM25 scoring of the keyword index."""

from __future__ import annotations

from kb.keyword import KeywordIndex
from kb.tokenize import tokens


def test_a_repeated_term_does_not_outweigh_a_second_distinct_term(tmp_path):
    # With k1 1.2 / b 0.75 the passage repeating "khí" won; a question's terms each occur once
    # or twice in the passage that answers it (JSQuAD BM25 R@1 0.880 -> 0.896 at k1 0.6, b 0.5).
    index = KeywordIndex(tmp_path / "k.sqlite")
    rows = [
        ("repeat", "khí khí khí khí khí sạch"),
        ("both", "khí thải nhà máy điện gió ngoài khơi vùng biển phía nam tỉnh"),
        *[(f"filler{i}", f"thải chất số {i}") for i in range(3)],
        ("other", "khí hậu số 0"),
        *[(f"pad{i}", f"nước sông số {i}") for i in range(6)],
    ]
    index.replace_file("f", [(cid, text, {"doc_id": cid, "lang": "vi"}) for cid, text in rows])
    assert index.search(tokens("khí thải"), 2)[0][0] == "both"
