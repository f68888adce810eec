from connectors import wechat_format as fmt


def test_short_text_is_one_piece():
    assert fmt.split_text("您好") == ["您好"]


def test_long_chinese_text_splits_under_byte_limit_on_char_boundaries():
    text = "期" * 1500  # 4500 bytes
    pieces = fmt.split_text(text, limit=2000)
    assert all(len(p.encode()) <= 2000 for p in pieces)
    assert "".join(pieces) == text


def test_split_prefers_line_boundaries_and_never_cuts_urls():
    url = "https://example.com/h5/agreements/very-long-path-" + "x" * 60
    line = "甲" * 600 + url + "乙" * 100
    pieces = fmt.split_text("第一段\n" + line, limit=1900)
    assert all(len(p.encode()) <= 1900 for p in pieces)
    assert any(url in p for p in pieces), "URL must stay whole in one piece"
    assert pieces[0] == "第一段" or pieces[0].startswith("第一段")


def test_buttons_become_numbered_options_and_numbers_map_back():
    out, options = fmt.build_outgoing([
        {"text": "欢迎登录掌厅。请选择登录类型：",
         "buttons": [{"title": "投资者", "payload": "投资者"}, {"title": "其他类型", "payload": "其他类型"}]}])
    assert len(out) == 1 and out[0]["type"] == "text"
    assert "1. 投资者\n2. 其他类型\n回复数字选择" in out[0]["content"]
    assert options == ["投资者", "其他类型"]
    assert fmt.match_option("1", options) == "投资者"
    assert fmt.match_option(" ２ ", options) == "其他类型"  # full-width digit
    assert fmt.match_option("第2项", options) == "其他类型"
    assert fmt.match_option("3", options) is None
    assert fmt.match_option("80010001", options) is None  # an account number is not an option
    assert fmt.match_option("1", None) is None


def test_several_texts_merge_into_one_reply_and_images_split_them():
    out, options = fmt.build_outgoing([{"text": "a"}, {"text": "b"}, {"image": "http://x/img.png"}, {"text": "c"}])
    assert [o["type"] for o in out] == ["text", "image", "text"]
    assert out[0]["content"] == "a\n\nb" and options is None


def test_news_custom_payload():
    out, _ = fmt.build_outgoing([{"custom": {"news": {"title": "隐私政策", "url": "http://x/h5/privacy"}}}])
    assert out == [{"type": "news", "articles": [{"title": "隐私政策", "url": "http://x/h5/privacy"}]}]


def test_options_serialisation():
    assert fmt.load_options(fmt.dump_options(["/affirm", "/deny"])) == ["/affirm", "/deny"]
    assert fmt.load_options("garbage{") is None and fmt.load_options(None) is None
