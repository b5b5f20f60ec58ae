"""Real files for the loader and pipeline tests, made on the fly.

PDFs are written by fpdf2 with embedded TrueType fonts (DejaVu Sans for
Vietnamese, IPAGothic for Japanese: Debian's fonts-dejavu-core and
fonts-ipafont-gothic, installed by ``scripts/install.sh --dev``).
"""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
IPAGOTHIC = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"

VI_PAGES = [
    "Nghị định 06/2022/NĐ-CP quy định về giảm nhẹ phát thải khí nhà kính và bảo vệ tầng ô-dôn.",
    "Thành phố Sakai và tỉnh Bà Rịa – Vũng Tàu ký biên bản ghi nhớ ngày 6/12/2023 tại COP28.",
]
JA_PAGES = [
    "堺市は2022年4月に脱炭素先行地域に選定されました。",
    "二国間クレジット制度（JCM）の設備補助は初期投資の2分の1までです。",
]


def pdf_bytes(pages: list[str], title: str = "", lang: str = "", encrypt_password: str | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("dejavu", "", DEJAVU)
    pdf.add_font("ipag", "", IPAGOTHIC)
    pdf.set_font("ipag" if lang == "ja" else "dejavu", size=12)
    pdf.set_fallback_fonts(["dejavu", "ipag"])
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    if encrypt_password:
        pdf.set_encryption(owner_password="owner", user_password=encrypt_password)
    return bytes(pdf.output())


def image_only_pdf(text: str, lang: str = "vi") -> bytes:
    """A 'scanned' page: text drawn into a picture, no text layer at all."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(IPAGOTHIC if lang == "ja" else DEJAVU, 48)
    image = Image.new("L", (1654, 600), 255)
    ImageDraw.Draw(image).text((60, 200), text, font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", resolution=150)
    return buffer.getvalue()


def docx_bytes(title: str, sections: list[tuple[str, str]]) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=1)
    for heading, body in sections:
        document.add_heading(heading, level=2)
        document.add_paragraph(body)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def html_bytes(title: str, body_html: str, lang: str = "vi") -> bytes:
    page = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: sans-serif }}</style><script>var tracking = "SCRIPT-TEXT-MUST-NOT-BE-INDEXED";</script>
</head><body><nav>MENU-TEXT-MUST-NOT-BE-INDEXED</nav><main><article>{body_html}</article></main>
<footer>FOOTER-TEXT-MUST-NOT-BE-INDEXED</footer></body></html>"""
    return page.encode("utf-8")


def cp1258_bytes(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: tone marks as combining characters."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        out.append(base + "".join(c for c in parts if c in tones))
    return "".join(out).encode("cp1258")


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
