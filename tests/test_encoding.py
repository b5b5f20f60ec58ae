import codecs

import pytest

from ingest.encoding import UndecodableText, decode_bytes
from makefiles import cp1258_bytes

VI = "Nghị định 06/2022/NĐ-CP quy định giảm nhẹ phát thải khí nhà kính. Thành phố Hồ Chí Minh."
JA = "堺市は2022年4月に脱炭素先行地域に選ばれました。「堺エネルギー地産地消プロジェクト」です。"


@pytest.mark.parametrize(
    "data, expected_text, expected_encoding",
    [
        (VI.encode("utf-8"), VI, "utf-8"),
        (codecs.BOM_UTF8 + JA.encode("utf-8"), JA, "utf-8-sig"),
        (JA.encode("utf-16"), JA, "utf-16"),
        (VI.encode("utf-16"), VI, "utf-16"),
        (JA.encode("cp932"), JA, "cp932"),
        (cp1258_bytes(VI), VI, "cp1258"),
        (JA.encode("euc-jp"), JA, "euc-jp"),
    ],
    ids=["utf8-vi", "utf8-bom-ja", "utf16-ja", "utf16-vi", "shift_jis-ja", "windows1258-vi", "eucjp-ja"],
)
def test_legacy_encodings_are_recognised(data, expected_text, expected_encoding):
    import unicodedata

    text, encoding, warnings = decode_bytes(data)
    assert unicodedata.normalize("NFC", text) == expected_text
    assert encoding == expected_encoding
    assert warnings == []


def test_mojibake_is_repaired_and_reported():
    garbled = VI.encode("utf-8").decode("latin-1").encode("utf-8")
    text, _, warnings = decode_bytes(garbled)
    assert text == VI
    assert warnings and "mojibake" in warnings[0]


def test_unrepairable_mojibake_is_refused():
    lossy = VI.encode("utf-8").decode("cp1252", errors="replace").encode("utf-8")
    with pytest.raises(UndecodableText, match="mojibake"):
        decode_bytes(lossy)


def test_binary_noise_is_refused():
    with pytest.raises(UndecodableText):
        decode_bytes(bytes(range(256)) * 20)
