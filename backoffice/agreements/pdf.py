"""The signed agreement as a PDF: the text, who signed, when and how (reading time, SMS confirmation), the
handwritten signature, and the SHA-256 of the text; CJK glyphs subset from Noto Sans CJK for reportlab."""
from __future__ import annotations

import hashlib
import io
import os
import threading

from backoffice.agreements.templates import Template
from backoffice.core.clock import as_utc, in_china

FONT_PATH = os.environ.get("HALL_CJK_FONT", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONT_FAMILY = "Noto Sans CJK SC"

# --- CJK font for reportlab --------------------------------------------------------------------
# reportlab embeds TrueType outlines only, and Noto Sans CJK ships CFF outlines. So the glyphs a document
# needs are subset from the collection with fontTools and converted to TrueType (quadratic) outlines; the
# result is cached and grown when a document needs characters it lacks.

_font_lock = threading.Lock()
_font_cache: dict = {"chars": frozenset(), "name": None, "serial": 0}


def _build_truetype_subset(chars: set[str]) -> bytes:
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTCollection, newTable

    collection = TTCollection(FONT_PATH, lazy=True)
    font = next((f for f in collection.fonts if f["name"].getDebugName(1) == FONT_FAMILY), collection.fonts[0])
    options = subset.Options()
    options.layout_features, options.name_IDs, options.notdef_outline, options.hinting = [], ["*"], True, False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(chars)))
    subsetter.subset(font)
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"], font["glyf"] = newTable("loca"), glyf
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    maxp = newTable("maxp")
    maxp.tableVersion, maxp.numGlyphs = 0x00010000, len(order)
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements", "maxPoints", "maxContours",
                 "maxCompositePoints", "maxCompositeContours", "maxComponentDepth"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font["maxp"] = maxp
    font["head"].glyphDataFormat, font["head"].indexToLocFormat = 0, 0
    post = font["post"]
    post.formatType, post.extraNames, post.mapping, post.glyphOrder = 2.0, [], {}, order
    font.sfntVersion = "\x00\x01\x00\x00"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


BASE_CHARS = set(chr(c) for c in range(0x20, 0x7F)) | set("，。、；：？！“”‘’（）《》【】—…·０１２３４５６７８９年月日时分秒")


def cjk_font(text: str) -> str:
    """The reportlab name of a registered font that covers every character of `text`."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    needed = set(text) - {"\n", "\r", "\t"}
    with _font_lock:
        if needed <= _font_cache["chars"]:
            return _font_cache["name"]
        chars = set(_font_cache["chars"]) | needed | BASE_CHARS
        data = _build_truetype_subset(chars)
        _font_cache["serial"] += 1
        name = f"HallCJK{_font_cache['serial']}"
        pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
        _font_cache.update(chars=frozenset(chars), name=name)
        return name


def _local(dt) -> str:
    return in_china(dt).strftime("%Y-%m-%d %H:%M:%S（北京时间）")


def render_pdf(tpl: Template, *, account_number: str, signature_png: bytes | None, signed_at, phone_masked: str,
               opened_at, agreed_at) -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    text_sha = hashlib.sha256(tpl.text.encode()).hexdigest()
    read_seconds = int((as_utc(agreed_at) - as_utc(opened_at)).total_seconds())
    rows = [("协议名称", f"《{tpl.title}》"), ("协议编号", tpl.code), ("协议版本", tpl.version),
            ("资金账号", account_number), ("阅读时间", f"{_local(opened_at)}，阅读{read_seconds}秒后同意"),
            ("签署时间", _local(signed_at)), ("签署方式", f"电子签名，经开户预留手机{phone_masked}短信验证码确认"),
            ("文本摘要", f"SHA-256 {text_sha}")]
    all_text = tpl.title + tpl.text + "".join(a + b for a, b in rows) + "客户签名本文件由金信期货有限公司掌厅系统生成第页"
    font = cjk_font(all_text)
    base = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=17, wordWrap="CJK", spaceAfter=5)
    title = ParagraphStyle("title", parent=base, fontSize=17, leading=24, alignment=TA_CENTER, spaceAfter=4)
    meta = ParagraphStyle("meta", parent=base, fontSize=9, textColor=colors.grey, alignment=TA_CENTER)
    head = ParagraphStyle("head", parent=base, fontSize=12, leading=19, spaceBefore=8)
    small = ParagraphStyle("small", parent=base, fontSize=9, leading=13, spaceAfter=0)

    story = [Paragraph(escape(tpl.title), title),
             Paragraph(escape(f"协议编号 {tpl.code}　版本 {tpl.version}　生效日期 {tpl.effective}"), meta),
             Spacer(1, 6 * mm)]
    for block in tpl.blocks:
        story.append(Paragraph(escape(block["text"]), head if block["kind"] == "h" else base))
    story += [Spacer(1, 8 * mm), Paragraph("签署信息", head)]
    table_rows = [[Paragraph(escape(k), small), Paragraph(escape(v), small)] for k, v in rows]
    if signature_png:
        from PIL import Image as PILImage

        w, h = PILImage.open(io.BytesIO(signature_png)).size
        width = 55 * mm
        table_rows.append([Paragraph("客户签名", small),
                           Image(io.BytesIO(signature_png), width=width, height=width * h / max(w, 1))])
    table = Table(table_rows, colWidths=[28 * mm, 140 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke)]))
    story += [table, Spacer(1, 4 * mm), Paragraph("本文件由金信期货有限公司掌厅系统生成。", small)]

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawCentredString(A4[0] / 2, 12 * mm, f"{tpl.title} {tpl.version}  第{doc.page}页")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=20 * mm, title=f"{tpl.title}", author="金信期货有限公司",
                            subject=f"agreement {tpl.code} version {tpl.version} account {account_number}",
                            keywords=f"{tpl.code},{tpl.version}", creator="hall backoffice")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
