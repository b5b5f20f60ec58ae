"""Words the system itself writes into answers, in each asker's language.

The UI has its own label table; this one covers text that ends up inside an
answer or a briefing note, where the asker's language must be kept.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "not_found": {
        "vi": "Cơ sở tri thức không có thông tin để trả lời câu hỏi này.",
        "ja": "ナレッジベースには、この質問に答える情報がありません。",
        "en": "The knowledge base has no information that answers this question.",
    },
    "nearest": {
        "vi": "Các tài liệu gần nhất với câu hỏi:",
        "ja": "質問に最も近い資料：",
        "en": "The nearest documents are:",
    },
    "other_lang_ja": {
        "vi": "Thông tin này chỉ có trong tài liệu tiếng Nhật; trích dẫn nguyên văn:",
        "ja": "この情報は日本語の資料にあります：",
        "en": "This information is only in Japanese documents; quoted as written:",
    },
    "other_lang_vi": {
        "vi": "Thông tin này có trong tài liệu tiếng Việt:",
        "ja": "この情報はベトナム語の資料にのみ記載されています。原文を引用します：",
        "en": "This information is only in Vietnamese documents; quoted as written:",
    },
    "other_lang_en": {
        "vi": "Thông tin này chỉ có trong tài liệu tiếng Anh; trích dẫn nguyên văn:",
        "ja": "この情報は英語の資料にのみ記載されています。原文を引用します：",
        "en": "This information is in English documents:",
    },
    "page": {"vi": "tr.", "ja": "p.", "en": "p."},
    "sources": {"vi": "Nguồn", "ja": "出典", "en": "Sources"},
}


def message(key: str, lang: str) -> str:
    table = MESSAGES[key]
    return table.get(lang) or table["en"]


def answer_lang(lang: str) -> str:
    """Answers are written in vi, ja or en; anything else gets English."""
    return lang if lang in ("vi", "ja", "en") else "en"
