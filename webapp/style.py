"""Look and feel: a theme with system fonts only, and the CSS of our HTML panels.

Gradio themes name web fonts by default; a font given as a plain string is a
system font and makes the page load nothing from outside this server. The
stack puts fonts with full Vietnamese and Japanese coverage first, so tone
marks and kanji come from one consistent face.
"""

from __future__ import annotations

import gradio as gr

FONTS = [
    "Noto Sans", "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic UI", "Meiryo",
    "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "system-ui", "sans-serif",
]
MONO_FONTS = ["Noto Sans Mono CJK JP", "DejaVu Sans Mono", "Consolas", "ui-monospace", "monospace"]


def theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue="teal", secondary_hue="amber", neutral_hue="slate", font=FONTS, font_mono=MONO_FONTS,
    )


CSS = """
#kh-header { align-items: center; }
#kh-title h1 { margin-bottom: 0.1em; }
#kh-title p { margin-top: 0; color: var(--body-text-color-subdued); }
:lang(ja) body, :lang(ja) .gradio-container { line-break: strict; }
.kh-sources { display: flex; flex-direction: column; gap: 10px; }
.kh-sources-title { margin: 0 0 4px 0; font-size: 1.05em; font-weight: 600; }
.kh-muted { color: var(--body-text-color-subdued); font-size: 0.92em; margin: 0; }
.kh-source {
  border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  background: var(--background-fill-secondary);
}
.kh-source-head { font-weight: 600; line-height: 1.35; }
.kh-n { color: var(--color-accent); margin-right: 4px; }
.kh-source-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 6px; }
.kh-passage {
  margin: 0 0 6px 0; padding: 4px 0 4px 10px; border-left: 3px solid var(--color-accent-soft);
  font-size: 0.92em; line-height: 1.55; max-height: 13em; overflow-y: auto; overflow-wrap: anywhere;
}
.kh-passage mark { background: #fde68a; color: #111827; padding: 0 1px; border-radius: 2px; }
.kh-open { font-size: 0.9em; font-weight: 600; }
.kh-msg { padding: 8px 10px; border-radius: 6px; margin: 4px 0; }
.kh-msg-ok { background: #ecfdf5; color: #065f46; }
.kh-msg-error { background: #fef2f2; color: #991b1b; }
.kh-msg-info { background: var(--background-fill-secondary); }
.kh-results { list-style: none; padding: 0; margin: 6px 0; }
.kh-results li { padding: 4px 8px; border-radius: 4px; margin-bottom: 3px; overflow-wrap: anywhere; }
.kh-results .kh-ok { background: #ecfdf5; color: #065f46; }
.kh-results .kh-bad { background: #fef2f2; color: #991b1b; }
.kh-facts { border-collapse: collapse; margin-bottom: 12px; width: 100%; border: none; }
.kh-facts th, .kh-facts td {
  text-align: left; padding: 5px 10px; border: none; border-bottom: 1px solid var(--border-color-primary);
  vertical-align: top; overflow-wrap: anywhere;
}
.kh-facts th { width: 32%; font-weight: 600; color: var(--body-text-color-subdued); }
#kh-doc-table, #kh-doc-table * { font-family: var(--font) !important; }
.kh-facts, .kh-facts tr, .kh-facts th, .kh-facts td { border-left: 0 !important; border-right: 0 !important; }
.kh-facts tr:first-child th, .kh-facts tr:first-child td { border-top: 0 !important; }
#kh-feedback { padding: 8px 10px; }
/* Status boxes take no room until they have something to say. */
#kh-chat-status:not(:has(.kh-msg)), #kh-feedback-status:not(:has(.kh-msg)),
#kh-doc-status:not(:has(.kh-msg)), #kh-upload-results:not(:has(li)) { display: none; }
#kh-feedback .kh-feedback-title { background: transparent; padding: 2px 0; }
.kh-brief h1 { font-size: 1.4em; margin: 0 0 4px; }
.kh-brief h2 { font-size: 1.1em; margin: 14px 0 6px; }
.kh-brief ul { margin: 0 0 6px 1.2em; }
.kh-brief li { margin-bottom: 4px; line-height: 1.55; }
.kh-brief .kh-brief-sources { list-style: none; margin-left: 0; font-size: 0.9em; }
.kh-note { margin: 6px 0; padding: 6px 10px; border-left: 3px solid #f59e0b; background: #fffbeb; }
sup.kh-ref { font-weight: 600; color: var(--color-accent); }
"""
