from kb.text import detect_lang, fold_width, normalize_text, split_sentences, strip_diacritics


def test_nfc_composes_vietnamese_tone_marks():
    decomposed = "Nghi\u0323 đi\u0323nh"  # what some Windows tools and PDFs produce
    assert normalize_text(decomposed) == "Nghị định"


def test_full_width_ascii_folds_but_kana_stays():
    assert fold_width("ＪＣＭ　２０２３年") == "JCM 2023年"
    assert normalize_text("ｶﾀｶﾅ と カタカナ") == "ｶﾀｶﾅ と カタカナ"


def test_control_characters_are_dropped_and_lines_kept():
    assert normalize_text("a\x00b\x07c\r\nd") == "abc\nd"


def test_detect_lang_on_short_and_mixed_text():
    assert detect_lang("堺市の脱炭素先行地域") == "ja"
    assert detect_lang("脱炭素先行地域") == "ja"
    assert detect_lang("Phạm Quốc Đăng氏が開会の挨拶を行った。") == "ja"
    assert detect_lang("Nghị định 06/2022/NĐ-CP") == "vi"
    assert detect_lang("nghi dinh 06 quy dinh gi") == "vi"
    assert detect_lang("What is the Joint Crediting Mechanism?") == "en"
    assert detect_lang("12345") == "other"


def test_japanese_sentences_split_at_kuten_and_marks():
    text = "堺市は2009年に選ばれた。「目標」を定めた。本当に？はい！"
    assert split_sentences(text) == ["堺市は2009年に選ばれた。", "「目標」を定めた。", "本当に？", "はい！"]


def test_latin_sentences_keep_legal_references_and_decimals():
    text = "Nghị định 06/2022/NĐ-CP có hiệu lực. Giảm 15.8% so với BAU. Tp. Hồ Chí Minh rất lớn."
    assert split_sentences(text) == [
        "Nghị định 06/2022/NĐ-CP có hiệu lực.",
        "Giảm 15.8% so với BAU.",
        "Tp. Hồ Chí Minh rất lớn.",
    ]


def test_a_numbered_heading_stays_one_sentence():
    assert split_sentences("4. Số liệu các đợt tuyển chọn\n3.2 Tiêu đề. Câu khác.") == [
        "4. Số liệu các đợt tuyển chọn", "3.2 Tiêu đề.", "Câu khác."]


def test_strip_diacritics_folds_d_with_stroke():
    assert strip_diacritics("Nghị định 06/2022/NĐ-CP") == "Nghi dinh 06/2022/ND-CP"


def test_a_line_wrapped_mid_sentence_is_joined():
    text = "Thị trưởng 永藤英機 (Nagafuji Hideki)\nđã giới thiệu chiến lược này.\nNăm | Số\nhai"
    assert split_sentences(text) == [
        "Thị trưởng 永藤英機 (Nagafuji Hideki) đã giới thiệu chiến lược này.", "Năm | Số", "hai"]
