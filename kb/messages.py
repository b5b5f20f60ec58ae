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
    "documents_say": {
        "vi": "Tài liệu ghi nhận:",
        "ja": "資料には次のように記載されています：",
        "en": "The documents note:",
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
    "glossary": {
        "vi": "Thuật ngữ (theo bảng thuật ngữ):",
        "ja": "用語（用語集による対訳）：",
        "en": "Terms (from the glossary):",
    },
    "page": {"vi": "tr.", "ja": "p.", "en": "p."},
    "sources": {"vi": "Nguồn", "ja": "出典", "en": "Sources"},
    # --- LLM mode: notes shown when the model fails or misbehaves (kb/llm.py) ---
    "llm_down": {
        "vi": "Không dùng được mô hình ngôn ngữ ({reason}); nội dung dưới đây được trích nguyên văn từ tài liệu.",
        "ja": "言語モデルを利用できませんでした（{reason}）。以下は資料からの抜粋です。",
        "en": "The language model could not be used ({reason}); what follows is quoted from the documents instead.",
    },
    "llm_broke": {
        "vi": "Mô hình ngôn ngữ bị ngắt giữa chừng ({reason}); nội dung dưới đây được trích nguyên văn từ tài liệu.",
        "ja": "言語モデルの応答が途中で途切れました（{reason}）。以下は資料からの抜粋です。",
        "en": "The language model stopped mid-answer ({reason}); what follows is quoted from the documents instead.",
    },
    "reason_timeout": {"vi": "hết thời gian chờ", "ja": "タイムアウト", "en": "timed out"},
    "reason_unreachable": {"vi": "không kết nối được tới máy chủ", "ja": "サーバーに接続できません", "en": "server unreachable"},
    "reason_server_error": {"vi": "máy chủ báo lỗi {status}", "ja": "サーバーエラー {status}", "en": "server error {status}"},
    "reason_disconnected": {"vi": "kết nối bị ngắt", "ja": "接続が切断されました", "en": "connection closed"},
    "reason_bad_output": {"vi": "phản hồi không đúng định dạng", "ja": "応答の形式が不正です", "en": "malformed response"},
    "reason_other": {"vi": "lỗi không xác định", "ja": "不明なエラー", "en": "unexpected error"},
    "citations_removed": {
        "vi": "Đã bỏ trích dẫn {markers} vì không khớp với đoạn tài liệu nào được cung cấp.",
        "ja": "提示した資料に該当しない引用 {markers} を削除しました。",
        "en": "Removed citation(s) {markers}: they match no passage given to the model.",
    },
    # --- briefing notes (kb/brief.py) ----------------------------------------
    "brief_title": {"vi": "Ghi chú tóm tắt", "ja": "ブリーフィングノート", "en": "Briefing note"},
    "brief_generated": {
        "vi": "Tạo ngày {date} từ cơ sở tri thức Kakehashi ({mode}).",
        "ja": "{date}にKakehashiナレッジベースから作成（{mode}）。",
        "en": "Generated on {date} from the Kakehashi knowledge base ({mode}).",
    },
    "mode_extractive": {"vi": "trích xuất từ tài liệu", "ja": "資料からの抽出", "en": "extracted from the documents"},
    "mode_llm": {"vi": "tổng hợp bằng mô hình ngôn ngữ", "ja": "言語モデルによる要約", "en": "summarised by a language model"},
    "summary": {"vi": "Tóm tắt", "ja": "概要", "en": "Summary"},
    "key_facts": {"vi": "Các dữ kiện chính", "ja": "主な事実", "en": "Key facts"},
    "timeline": {"vi": "Dòng thời gian", "ja": "時系列", "en": "Timeline"},
    "actors": {"vi": "Các bên liên quan", "ja": "関係者", "en": "Actors"},
    "open_questions": {"vi": "Các vấn đề còn bỏ ngỏ", "ja": "未解決の論点", "en": "Open questions"},
    "none_found": {"vi": "Không tìm thấy trong tài liệu.", "ja": "資料には見当たりません。", "en": "None found in the sources."},
    "no_open_questions": {
        "vi": "Tài liệu không nêu điểm nào là chưa được xác minh.",
        "ja": "資料には未確認・未検証とされた事項は見当たりません。",
        "en": "The sources flag nothing as unconfirmed or unverified.",
    },
    "brief_quoted": {
        "vi": "Các mục được trích nguyên văn theo ngôn ngữ của tài liệu gốc.",
        "ja": "各項目は原文の言語のまま引用しています。",
        "en": "Items are quoted in the language of their source.",
    },
    "items_dropped": {
        "vi": "Đã bỏ {count} mục không có trích dẫn hợp lệ.",
        "ja": "有効な引用のない項目を{count}件削除しました。",
        "en": "Dropped {count} item(s) without a valid citation.",
    },
    "section": {"vi": "mục", "ja": "節", "en": "section"},
}


def message(key: str, lang: str) -> str:
    table = MESSAGES[key]
    return table.get(lang) or table["en"]


def answer_lang(lang: str) -> str:
    """Answers are written in vi, ja or en; anything else gets English."""
    return lang if lang in ("vi", "ja", "en") else "en"
