"""Every word the interface shows, in Vietnamese, Japanese and English.

One table, so a label can never exist in one language only: a test walks it
and fails on a missing translation. The UI switches language by re-reading
this table for every registered component. English is the fallback for a
language the table does not know.
"""

from __future__ import annotations

UI_LANGS = ("vi", "ja", "en")
DEFAULT_UI_LANG = "vi"

LANG_SELECTOR = [("Tiếng Việt", "vi"), ("日本語", "ja"), ("English", "en")]

LABELS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------- header
    "title": {
        "vi": "Kakehashi — Cầu nối",
        "ja": "架け橋 Kakehashi",
        "en": "Kakehashi — the bridge",
    },
    "subtitle": {
        "vi": "Cơ sở tri thức song ngữ Việt–Nhật về hợp tác khí hậu Sakai × Bà Rịa–Vũng Tàu. Mọi câu trả lời đều dựa trên tài liệu và ghi rõ nguồn.",
        "ja": "堺市×バリア・ブンタウ省の気候変動協力に関する日越バイリンガル・ナレッジベース。すべての回答は資料に基づき、出典を示します。",
        "en": "A bilingual Vietnamese–Japanese knowledge base on the Sakai × Bà Rịa–Vũng Tàu climate partnership. Every answer rests on the documents and cites them.",
    },
    "ui_lang": {"vi": "Ngôn ngữ giao diện", "ja": "表示言語", "en": "Interface language"},
    # ------------------------------------------------------------- tabs
    "tab_chat": {"vi": "Hỏi đáp", "ja": "質問", "en": "Ask"},
    "tab_docs": {"vi": "Tài liệu", "ja": "文書", "en": "Documents"},
    "tab_brief": {"vi": "Bản tóm tắt", "ja": "ブリーフィング資料", "en": "Briefing note"},
    "tab_settings": {"vi": "Cài đặt & giới thiệu", "ja": "設定・情報", "en": "Settings & about"},
    # ------------------------------------------------------------- chat
    "chatbot": {"vi": "Hội thoại", "ja": "会話", "en": "Conversation"},
    "chat_placeholder": {
        "vi": "### Xin chào!\nHãy đặt câu hỏi bằng tiếng Việt hoặc tiếng Nhật, hoặc chọn một câu hỏi mẫu bên dưới.",
        "ja": "### ようこそ\n日本語またはベトナム語で質問するか、下の質問例を選んでください。",
        "en": "### Welcome\nAsk in Vietnamese or Japanese, or pick an example question below.",
    },
    "question": {"vi": "Câu hỏi", "ja": "質問", "en": "Question"},
    "question_ph": {
        "vi": "Ví dụ: Nghị định 06/2022/NĐ-CP quy định những gì?",
        "ja": "例：都市間連携事業の委託費の上限はいくらですか？",
        "en": "e.g. What does Decree 06/2022/ND-CP regulate?",
    },
    "send": {"vi": "Gửi", "ja": "送信", "en": "Send"},
    "new_chat": {"vi": "Cuộc hội thoại mới", "ja": "新しい会話", "en": "New conversation"},
    "answer_lang": {"vi": "Ngôn ngữ trả lời", "ja": "回答の言語", "en": "Answer language"},
    "auto": {"vi": "Tự động", "ja": "自動", "en": "Automatic"},
    "filters": {"vi": "Bộ lọc tìm kiếm", "ja": "検索の絞り込み", "en": "Search filters"},
    "filter_lang": {"vi": "Ngôn ngữ tài liệu", "ja": "資料の言語", "en": "Document language"},
    "any_lang": {"vi": "Tất cả", "ja": "すべて", "en": "All"},
    "filter_docs": {"vi": "Chỉ trong các tài liệu", "ja": "対象の資料", "en": "Only these documents"},
    "filter_tags": {"vi": "Chủ đề (thẻ)", "ja": "タグ", "en": "Tags"},
    "date_from": {"vi": "Từ ngày", "ja": "開始日", "en": "From date"},
    "date_to": {"vi": "Đến ngày", "ja": "終了日", "en": "To date"},
    "date_ph": {"vi": "NNNN-TT-NN", "ja": "YYYY-MM-DD", "en": "YYYY-MM-DD"},
    "sources": {"vi": "Nguồn trích dẫn", "ja": "引用元", "en": "Sources"},
    "sources_empty": {
        "vi": "Các đoạn trích được dùng để trả lời sẽ hiện ở đây, câu được trích dẫn được tô sáng.",
        "ja": "回答の根拠となった箇所がここに表示され、引用された文が強調されます。",
        "en": "The passages behind each answer appear here, with the quoted sentences highlighted.",
    },
    "sources_none": {
        "vi": "Không có nguồn nào cho câu trả lời này.",
        "ja": "この回答には出典がありません。",
        "en": "This answer has no sources.",
    },
    "open_original": {"vi": "Mở tài liệu gốc", "ja": "原本を開く", "en": "Open the original"},
    "page": {"vi": "trang", "ja": "ページ", "en": "page"},
    "slide": {"vi": "trang chiếu", "ja": "スライド", "en": "slide"},
    "section": {"vi": "mục", "ja": "節", "en": "section"},
    "thinking": {"vi": "Đang tìm trong tài liệu…", "ja": "資料を検索しています…", "en": "Searching the documents…"},
    "mode_extractive": {
        "vi": "Trích nguyên văn từ tài liệu (không dùng mô hình ngôn ngữ)",
        "ja": "資料からの抜粋（言語モデル不使用）",
        "en": "Quoted from the documents (no language model)",
    },
    "mode_llm": {"vi": "Do mô hình ngôn ngữ soạn từ các đoạn trích", "ja": "言語モデルが引用箇所から作成", "en": "Written by the language model from the passages"},
    "error_ask": {"vi": "Không thể trả lời: {error}", "ja": "回答できませんでした：{error}", "en": "Could not answer: {error}"},
    "bad_date": {
        "vi": "Ngày không hợp lệ: {value} (dùng NNNN, NNNN-TT hoặc NNNN-TT-NN)",
        "ja": "日付が正しくありません：{value}（YYYY、YYYY-MM、YYYY-MM-DD のいずれか）",
        "en": "Not a date: {value} (use YYYY, YYYY-MM or YYYY-MM-DD)",
    },
    "empty_question": {"vi": "Hãy nhập câu hỏi.", "ja": "質問を入力してください。", "en": "Please type a question."},
    # ------------------------------------------------------------- feedback
    "feedback": {"vi": "Câu trả lời có hữu ích không?", "ja": "この回答は役に立ちましたか？", "en": "Was this answer helpful?"},
    "comment": {"vi": "Góp ý (không bắt buộc)", "ja": "コメント（任意）", "en": "Comment (optional)"},
    "comment_ph": {
        "vi": "Điều gì đúng, điều gì còn thiếu?",
        "ja": "良かった点・足りない点など",
        "en": "What was right, what was missing?",
    },
    "thumbs_up": {"vi": "Hữu ích", "ja": "役に立った", "en": "Helpful"},
    "thumbs_down": {"vi": "Chưa tốt", "ja": "役に立たなかった", "en": "Not helpful"},
    "feedback_saved": {"vi": "Đã lưu góp ý. Cảm ơn bạn!", "ja": "フィードバックを保存しました。ありがとうございます。", "en": "Feedback saved. Thank you!"},
    "feedback_nothing": {
        "vi": "Chưa có câu trả lời nào để đánh giá.",
        "ja": "評価する回答がまだありません。",
        "en": "There is no answer to rate yet.",
    },
    # ------------------------------------------------------------- documents
    "upload": {"vi": "Tải tệp lên và lập chỉ mục", "ja": "ファイルをアップロードして登録", "en": "Upload and index files"},
    "upload_info": {
        "vi": "PDF, DOCX, PPTX, HTML, Markdown hoặc TXT; tối đa {mb} MB mỗi tệp. Tệp lỗi sẽ được báo lý do, các tệp khác vẫn được xử lý.",
        "ja": "PDF・DOCX・PPTX・HTML・Markdown・TXT に対応、1ファイル {mb} MB まで。読み込めないファイルは理由を表示し、他のファイルの処理は続けます。",
        "en": "PDF, DOCX, PPTX, HTML, Markdown or TXT; up to {mb} MB each. A file that cannot be read is reported with its reason; the others go on.",
    },
    "upload_lang": {"vi": "Ngôn ngữ của tệp tải lên", "ja": "アップロードする資料の言語", "en": "Language of the uploaded files"},
    "upload_result": {"vi": "Kết quả tải lên", "ja": "アップロード結果", "en": "Upload result"},
    "upload_ok": {"vi": "đã lập chỉ mục ({chunks} đoạn)", "ja": "登録しました（{chunks} チャンク）", "en": "indexed ({chunks} chunks)"},
    "upload_unchanged": {"vi": "không thay đổi (đã có trong chỉ mục)", "ja": "変更なし（登録済み）", "en": "unchanged (already indexed)"},
    "upload_failed": {"vi": "bị từ chối: {reason}", "ja": "登録できませんでした：{reason}", "en": "rejected: {reason}"},
    "upload_none": {"vi": "Chưa chọn tệp nào.", "ja": "ファイルが選択されていません。", "en": "No file was chosen."},
    "ingesting": {"vi": "Đang xử lý {name}", "ja": "{name} を処理中", "en": "Processing {name}"},
    "busy": {
        "vi": "Một lượt lập chỉ mục khác đang chạy; hãy thử lại sau ít phút.",
        "ja": "別の登録処理が実行中です。しばらくしてから再度お試しください。",
        "en": "Another indexing run is in progress; try again in a few minutes.",
    },
    "bad_type": {
        "vi": "định dạng {ext} không được hỗ trợ (chỉ PDF, DOCX, PPTX, HTML, MD, TXT)",
        "ja": "{ext} 形式には対応していません（PDF・DOCX・PPTX・HTML・MD・TXT のみ）",
        "en": "file type {ext} is not supported (PDF, DOCX, PPTX, HTML, MD, TXT only)",
    },
    "too_big": {
        "vi": "tệp {size:.1f} MB vượt quá giới hạn {mb} MB",
        "ja": "ファイルサイズ {size:.1f} MB が上限 {mb} MB を超えています",
        "en": "the file is {size:.1f} MB, over the {mb} MB limit",
    },
    "doc_table": {"vi": "Tài liệu trong cơ sở tri thức", "ja": "登録済みの資料", "en": "Documents in the knowledge base"},
    "col_title": {"vi": "Tiêu đề", "ja": "タイトル", "en": "Title"},
    "col_lang": {"vi": "Ngôn ngữ", "ja": "言語", "en": "Language"},
    "col_format": {"vi": "Định dạng", "ja": "形式", "en": "Format"},
    "col_pages": {"vi": "Số trang", "ja": "ページ数", "en": "Pages"},
    "col_chunks": {"vi": "Số đoạn", "ja": "チャンク数", "en": "Chunks"},
    "col_ingested": {"vi": "Lập chỉ mục lúc", "ja": "登録日時", "en": "Ingested at"},
    "col_status": {"vi": "Trạng thái", "ja": "状態", "en": "Status"},
    "col_error": {"vi": "Lỗi / cảnh báo", "ja": "エラー・警告", "en": "Errors / warnings"},
    "col_source": {"vi": "Tệp", "ja": "ファイル", "en": "File"},
    "status_ok": {"vi": "✓ sẵn sàng", "ja": "✓ 利用可能", "en": "✓ ready"},
    "status_failed": {"vi": "✗ lỗi", "ja": "✗ エラー", "en": "✗ failed"},
    "status_indexing": {"vi": "… đang xử lý", "ja": "… 処理中", "en": "… indexing"},
    "pick_doc": {"vi": "Chọn tài liệu", "ja": "資料を選択", "en": "Choose a document"},
    "delete": {"vi": "Xoá khỏi chỉ mục", "ja": "索引から削除", "en": "Remove from the index"},
    "reindex": {"vi": "Lập chỉ mục lại", "ja": "再登録", "en": "Re-index"},
    "reindex_all": {"vi": "Cập nhật toàn bộ", "ja": "すべて更新", "en": "Update all"},
    "refresh": {"vi": "Làm mới", "ja": "再読み込み", "en": "Refresh"},
    "deleted": {"vi": "Đã xoá “{title}” ({chunks} đoạn).", "ja": "「{title}」を削除しました（{chunks} チャンク）。", "en": "Removed “{title}” ({chunks} chunks)."},
    "deleted_corpus_note": {
        "vi": "Tệp này nằm trong thư mục documents/ nên sẽ được thêm lại ở lần khởi động sau; hãy xoá tệp khỏi thư mục nếu muốn bỏ hẳn.",
        "ja": "このファイルは documents/ フォルダにあるため、次回の起動時に再登録されます。完全に除くにはフォルダから削除してください。",
        "en": "This file lives in documents/, so the next start indexes it again; delete it from the folder to drop it for good.",
    },
    "reindexed": {"vi": "Đã lập chỉ mục lại “{title}”: {result}.", "ja": "「{title}」を再登録しました：{result}。", "en": "Re-indexed “{title}”: {result}."},
    "reindexed_all": {
        "vi": "Đã cập nhật: {added} mới, {updated} thay đổi, {unchanged} giữ nguyên, {removed} đã xoá, {failed} lỗi.",
        "ja": "更新しました：新規 {added}、変更 {updated}、変更なし {unchanged}、削除 {removed}、エラー {failed}。",
        "en": "Updated: {added} added, {updated} changed, {unchanged} unchanged, {removed} removed, {failed} failed.",
    },
    "no_doc_picked": {"vi": "Hãy chọn một tài liệu trước.", "ja": "先に資料を選択してください。", "en": "Choose a document first."},
    "unknown_doc": {"vi": "Không tìm thấy tài liệu này trong chỉ mục.", "ja": "この資料は索引にありません。", "en": "This document is not in the index."},
    # ------------------------------------------------------------- brief
    "brief_intro": {
        "vi": "Soạn bản tóm tắt có trích dẫn về một chủ đề, để chuẩn bị hội thảo hoặc cuộc họp.",
        "ja": "テーマを入力すると、出典付きのブリーフィング資料を作成します。会議やワークショップの準備にどうぞ。",
        "en": "Write a cited briefing note on a topic, to prepare a workshop or a meeting.",
    },
    "topic": {"vi": "Chủ đề", "ja": "テーマ", "en": "Topic"},
    "topic_ph": {
        "vi": "Ví dụ: Cơ chế tín chỉ chung JCM và các dự án tại Bà Rịa–Vũng Tàu",
        "ja": "例：JCM（二国間クレジット制度）とバリア・ブンタウ省での事業",
        "en": "e.g. The Joint Crediting Mechanism and projects in Bà Rịa–Vũng Tàu",
    },
    "brief_lang": {"vi": "Ngôn ngữ của bản tóm tắt", "ja": "資料の言語", "en": "Language of the note"},
    "make_brief": {"vi": "Soạn bản tóm tắt", "ja": "資料を作成", "en": "Write the note"},
    "brief_empty": {
        "vi": "Bản tóm tắt sẽ hiện ở đây.",
        "ja": "作成した資料がここに表示されます。",
        "en": "The note appears here.",
    },
    "download_docx": {"vi": "↓ Tải DOCX", "ja": "↓ DOCX をダウンロード", "en": "↓ Download DOCX"},
    "download_md": {"vi": "↓ Tải Markdown", "ja": "↓ Markdown をダウンロード", "en": "↓ Download Markdown"},
    "empty_topic": {"vi": "Hãy nhập chủ đề.", "ja": "テーマを入力してください。", "en": "Please type a topic."},
    "error_brief": {"vi": "Không thể soạn bản tóm tắt: {error}", "ja": "資料を作成できませんでした：{error}", "en": "Could not write the note: {error}"},
    # ------------------------------------------------------------- settings
    "about": {
        "vi": "Kakehashi trả lời chỉ từ các tài liệu đã lập chỉ mục và luôn ghi nguồn. Dữ liệu không rời khỏi máy chủ này.",
        "ja": "Kakehashi は登録済みの資料だけに基づいて回答し、必ず出典を示します。データはこのサーバーの外に出ません。",
        "en": "Kakehashi answers only from the indexed documents and always cites them. No data leaves this server.",
    },
    "settings_model": {"vi": "Mô hình", "ja": "モデル", "en": "Models"},
    "embedding_model": {"vi": "Mô hình nhúng (embedding)", "ja": "埋め込みモデル", "en": "Embedding model"},
    "llm_model": {"vi": "Mô hình ngôn ngữ (LLM)", "ja": "言語モデル（LLM）", "en": "Language model (LLM)"},
    "llm_endpoint": {"vi": "Địa chỉ LLM", "ja": "LLM エンドポイント", "en": "LLM endpoint"},
    "llm_status": {"vi": "Trạng thái LLM", "ja": "LLM の状態", "en": "LLM status"},
    "llm_none": {
        "vi": "Chưa cấu hình — trả lời bằng cách trích nguyên văn",
        "ja": "未設定 — 資料からの抜粋で回答します",
        "en": "Not configured — answers quote the documents",
    },
    "llm_ok": {"vi": "hoạt động", "ja": "接続中", "en": "reachable"},
    "llm_down": {"vi": "không kết nối được", "ja": "接続できません", "en": "unreachable"},
    "index_stats": {"vi": "Chỉ mục", "ja": "索引", "en": "Index"},
    "stat_documents": {"vi": "Tài liệu", "ja": "資料数", "en": "Documents"},
    "stat_failed": {"vi": "Tệp lỗi", "ja": "エラーのファイル", "en": "Failed files"},
    "stat_chunks": {"vi": "Số đoạn", "ja": "チャンク数", "en": "Chunks"},
    "stat_per_lang": {"vi": "Đoạn theo ngôn ngữ", "ja": "言語別チャンク数", "en": "Chunks per language"},
    "stat_store": {"vi": "Kho vector", "ja": "ベクトルストア", "en": "Vector store"},
    "stat_data_dir": {"vi": "Thư mục dữ liệu", "ja": "データフォルダ", "en": "Data folder"},
    "feedback_counts": {"vi": "Góp ý đã nhận", "ja": "フィードバック件数", "en": "Feedback received"},
    "version": {"vi": "Phiên bản", "ja": "バージョン", "en": "Version"},
    "api_help": {
        "vi": "API cho chương trình khác: /ask, /search, /brief qua gradio_client (xem README); giám sát: /healthz.",
        "ja": "他のプログラム向け API：gradio_client で /ask・/search・/brief（README 参照）。監視用：/healthz。",
        "en": "API for other programs: /ask, /search, /brief through gradio_client (see the README); monitoring: /healthz.",
    },
    # ------------------------------------------------------------- users and visibility
    "login": {"vi": "Đăng nhập", "ja": "ログイン", "en": "Log in"},
    "username": {"vi": "Tên người dùng", "ja": "ユーザー名", "en": "User name"},
    "password": {"vi": "Mật khẩu", "ja": "パスワード", "en": "Password"},
    "login_failed": {
        "vi": "Sai tên người dùng hoặc mật khẩu.",
        "ja": "ユーザー名またはパスワードが正しくありません。",
        "en": "Wrong user name or password.",
    },
    "logout": {"vi": "Đăng xuất", "ja": "ログアウト", "en": "Log out"},
    "signed_in": {"vi": "Đang đăng nhập: {name} ({role})", "ja": "ログイン中：{name}（{role}）", "en": "Signed in: {name} ({role})"},
    "public_view": {
        "vi": "Chế độ công khai: chỉ hiện tài liệu công khai. Đăng nhập để xem tài liệu nội bộ.",
        "ja": "公開モード：公開資料のみ表示します。内部資料はログインすると表示されます。",
        "en": "Public view: public documents only. Log in to see internal documents.",
    },
    "role_admin": {"vi": "quản trị viên", "ja": "管理者", "en": "administrator"},
    "role_official": {"vi": "cán bộ", "ja": "職員", "en": "official"},
    "role_organizer": {"vi": "ban tổ chức", "ja": "主催者", "en": "organizer"},
    "role_partner": {"vi": "đối tác", "ja": "パートナー", "en": "partner"},
    "role_public": {"vi": "công khai", "ja": "公開", "en": "public"},
    "not_allowed": {
        "vi": "Chỉ quản trị viên hoặc cán bộ mới được thay đổi tài liệu. Hãy đăng nhập bằng tài khoản phù hợp.",
        "ja": "資料を変更できるのは管理者と職員だけです。該当するアカウントでログインしてください。",
        "en": "Only administrators and officials may change documents. Log in with such an account.",
    },
    "upload_visibility": {"vi": "Phạm vi hiển thị", "ja": "公開範囲", "en": "Visibility"},
    "vis_auto": {"vi": "Theo tệp (mặc định: công khai)", "ja": "ファイルの設定に従う（既定：公開）", "en": "From the file (default: public)"},
    "vis_public": {"vi": "Công khai", "ja": "公開", "en": "Public"},
    "vis_internal": {"vi": "Nội bộ", "ja": "内部", "en": "Internal"},
    "vis_group": {"vi": "Nhóm {name}", "ja": "グループ {name}", "en": "Group {name}"},
    "bad_visibility": {
        "vi": "Phạm vi “{value}” không hợp lệ: dùng public, internal hoặc group:TÊN.",
        "ja": "公開範囲「{value}」は無効です。public・internal・group:名前 のいずれかにしてください。",
        "en": "Visibility “{value}” is not valid: use public, internal or group:NAME.",
    },
    "col_visibility": {"vi": "Phạm vi", "ja": "公開範囲", "en": "Visibility"},
    "audit_title": {"vi": "Nhật ký truy cập (chỉ quản trị viên)", "ja": "監査ログ（管理者のみ）", "en": "Audit log (administrators only)"},
    "audit_time": {"vi": "Thời gian", "ja": "日時", "en": "Time"},
    "audit_user": {"vi": "Người dùng", "ja": "ユーザー", "en": "User"},
    "audit_surface": {"vi": "Kênh", "ja": "経路", "en": "Surface"},
    "audit_action": {"vi": "Thao tác", "ja": "操作", "en": "Action"},
    "audit_query": {"vi": "Câu hỏi / truy vấn", "ja": "質問・検索語", "en": "Question / query"},
    "audit_docs": {"vi": "Tài liệu trả về", "ja": "返された資料", "en": "Documents returned"},
    "audit_empty": {"vi": "Chưa có bản ghi nào.", "ja": "記録はまだありません。", "en": "No records yet."},
    # ------------------------------------------------------------- language names
    "lang_vi": {"vi": "Tiếng Việt", "ja": "ベトナム語", "en": "Vietnamese"},
    "lang_ja": {"vi": "Tiếng Nhật", "ja": "日本語", "en": "Japanese"},
    "lang_en": {"vi": "Tiếng Anh", "ja": "英語", "en": "English"},
    "lang_other": {"vi": "Khác", "ja": "その他", "en": "Other"},
}


def ui_lang(lang: str | None) -> str:
    """The interface language to use for ``lang`` (English for anything unknown)."""
    return lang if lang in UI_LANGS else "en"


def t(key: str, lang: str | None, **values: object) -> str:
    """The label ``key`` in ``lang``, formatted with ``values`` (falls back to English)."""
    entry = LABELS[key]
    text = entry.get(ui_lang(lang)) or entry["en"]
    return text.format(**values) if values else text


def lang_name(code: str | None, lang: str | None) -> str:
    """A document language code (vi/ja/en/other) as words in the interface language."""
    key = f"lang_{code}" if f"lang_{code}" in LABELS else "lang_other"
    return t(key, lang)


def pick_ui_lang(query_lang: str | None, accept_language: str | None) -> str:
    """The first open's language: ``?lang=`` wins, then the browser's Accept-Language."""
    if query_lang and query_lang.lower()[:2] in UI_LANGS:
        return query_lang.lower()[:2]
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in UI_LANGS:
            return code
    return DEFAULT_UI_LANG
