"""HTML to PDF with WeasyPrint (Pango/HarfBuzz from Debian, Noto CJK from fonts-noto-cjk).

WeasyPrint embeds the CJK fonts as subset CID fonts, so the Chinese text can be extracted and
checked (pdftotext) and the font named (pdffonts); headless Chromium embeds CFF fonts as
anonymous Type 3 glyphs, which is why it was not chosen.
"""

from __future__ import annotations

from .errors import DocumentError


def html_to_pdf(html: str) -> bytes:
    """Render one self-contained HTML document (no external resources) to PDF bytes."""
    try:
        # Imported here: it loads Pango through cffi, which only notice rendering needs.
        import weasyprint
    except (ImportError, OSError) as exc:
        raise DocumentError(
            "无法加载 PDF 排版组件 WeasyPrint",
            f"WeasyPrint cannot be loaded: {exc}",
            "run installer/setup.sh (it installs libpango-1.0-0, libpangoft2-1.0-0, "
            "libharfbuzz-subset0 and fonts-noto-cjk, and weasyprint in .venv)",
        ) from exc
    try:
        pdf = weasyprint.HTML(string=html).write_pdf()
    except Exception as exc:  # any rendering failure becomes one DocumentError
        raise DocumentError(
            "督办文书生成 PDF 失败",
            f"rendering the notice as PDF failed: {exc}",
            "check that fonts-noto-cjk is installed (fc-list | grep 'Noto Serif CJK')",
        ) from exc
    if not isinstance(pdf, bytes):
        raise DocumentError(
            "PDF 排版组件没有返回内容",
            "WeasyPrint returned no PDF",
            "upgrade weasyprint (>=62) in .venv",
        )
    return pdf
