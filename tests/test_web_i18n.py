"""The web app in Chinese: the ranker's reasons, the "why not" lines, notes and errors read
in the user's language (English as before), digests stored before reasons had parts still
read as they were, and the values in them (titles, names) stay escaped text."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from papersift.rank.reasons import TEMPLATES, Part, encode, render
from papersift.store.db import DigestEntry
from papersift.web.i18n import MESSAGES, ZH, translator
from tests.arxiv_server import DAY1, DAY2
from tests.test_web_app import csrf_of
from tests.web_fixtures import ANN, Web

ZH_HEADERS = {"Accept-Language": "zh-CN,zh"}
EN_HEADERS = {"Accept-Language": "en"}
# what the ranker's reasons say in English: none of it may be left on a Chinese page
ENGLISH = ["close to", "author you follow", "keyword:", "which you 👍'd", "author of a paper",
           "interest:", "terms:", "of recent papers", "quality:", "accepted at",
           "code released"]
EVIL = "<script>window.__xss = 1</script>Attention"
REASONS = [
    [Part("close_rated", {"title": EVIL, "sim": 0.8347}),
     Part("liked_author", {"names": ["Zoë Quill", "<b>Bo</b>"]}),
     Part("interest_more", {"title": "Sparse attention", "more": 4}),
     Part("terms", {"terms": ["kv cache", "decoding"]}),
     Part("top", {"share": 3.24}),
     Part("quality", {"cues": ["accepted at ICLR 2026", "code released"]})],
    [Part("author", {"names": ["Tri Dao"]}), Part("keyword", {"names": ["attention"]}),
     Part("close", {"title": "FlashAttention", "sim": 0.5}), Part("interest_description")],
    [Part("description", {"sim": 0.41})],
    [Part("nothing")],
]


def _reasons_of(page: str) -> list[str]:
    return re.findall(r'<p class="reason"><strong>[^<]*</strong> (.*?)</p>', page)


def _store_digest(web: Web) -> list[DigestEntry]:
    """A digest of Ann's on DAY2 as the ranker writes it now: reasons as parts, one behind
    what the LLM layer wrote (her digest of DAY1 holds plain reasons, as stored before)."""
    reasons = [encode(r) for r in REASONS]
    reasons[1] = "Fits your work on long contexts. (LLM: relevance 8/10, novelty 6/10) · " \
        + reasons[1]
    entries = [DigestEntry(i + 1, p.id, round(3.0 - 0.2 * i, 2), reasons[i])
               for i, p in enumerate(web.store.listing(DAY2)[:len(reasons)])]
    return web.store.save_digest(ANN, DAY2, "test", entries)


def test_digest_reasons_are_in_the_users_language(web_single: Web) -> None:
    _store_digest(web_single)
    c: TestClient = web_single.client()
    zh = _reasons_of(c.get(f"/digest/{DAY2}", headers=ZH_HEADERS).text)
    assert zh[0] == ("与你 👍 过的“&lt;script&gt;window.__xss = 1&lt;/script&gt;Attention”相近"
                     "（0.83）；作者 Zoë Quill、&lt;b&gt;Bo&lt;/b&gt; 写过你 👍 过的论文；"
                     "兴趣：“Sparse attention”及另外 4 篇；关键词语：kv cache、decoding；"
                     "位列近期论文前 3.2%；质量：已被 ICLR 2026 接收、已公开代码")
    assert zh[1] == ("Fits your work on long contexts. (LLM: relevance 8/10, novelty 6/10) · "
                     "你关注的作者：Tri Dao；关键词：attention；与“FlashAttention”相近（0.50）；"
                     "兴趣：你的兴趣描述")
    assert zh[2:] == ["符合你的兴趣描述（0.41）", "与你的档案没有匹配"]
    for reason in zh:
        assert not any(e in reason for e in ENGLISH), reason
    # stored before reasons had parts: shown as they are, in either language
    old = _reasons_of(c.get(f"/digest/{DAY1}", headers=ZH_HEADERS).text)
    assert old[:2] == ["close to test paper 0", "close to test paper 1"]

    en = _reasons_of(c.get(f"/digest/{DAY2}", headers=EN_HEADERS).text)
    assert en[0] == ("close to “&lt;script&gt;window.__xss = 1&lt;/script&gt;Attention” "
                     "(0.83), which you 👍&#39;d; by Zoë Quill, &lt;b&gt;Bo&lt;/b&gt;, author "
                     "of a paper you 👍&#39;d; interest: “Sparse attention” and 4 more; terms: "
                     "kv cache, decoding; top 3.2% of recent papers; quality: accepted at ICLR "
                     "2026, code released")
    assert en[3] == "no match in your profile"
    # the API speaks English to programs, never the stored encoding
    api = c.get(f"/api/digest/{DAY2}").json()["entries"]
    assert api[2]["reason"] == "matches your interests description (0.41)"
    assert c.get(f"/api/digest/{DAY1}").json()["entries"][0]["reason"] == "close to test paper 0"


def test_paper_page_why_and_why_not_in_chinese(web_single: Web) -> None:
    entries = _store_digest(web_single)
    c = web_single.client()
    picked = c.get(f"/paper/{entries[2].paper_id}", headers=ZH_HEADERS).text
    assert f"出现在 {DAY2} 的推荐中（第 3 位，得分 2.60）。 符合你的兴趣描述（0.41）" in picked
    store = web_single.store
    taken = {e.paper_id for e in store.digest(ANN, DAY1)} | {e.paper_id for e in store.library(ANN)}
    left_out = next(p.id for p in store.listing(DAY1) if p.id not in taken)
    zh = c.get(f"/paper/{left_out}", headers=ZH_HEADERS).text
    why = re.search(r'<li class="why-not-reason">(.*?)</li>', zh).group(1)
    # the live ranker's reason: its closest library paper, in Chinese
    assert why.startswith("排序器给出的理由：与“") and "”相近（0." in why, why
    assert not any(e in why for e in ENGLISH), why
    en = c.get(f"/paper/{left_out}", headers=EN_HEADERS).text
    assert re.search(r'<li class="why-not-reason">The ranker&#39;s reason: close to “', en)


def test_form_errors_and_notes_are_in_chinese(web_single: Web) -> None:
    c = web_single.client()
    token = csrf_of(c)
    bad = c.post("/profile/ids", data={"ids": "not-an-id", "csrf": token}, headers=ZH_HEADERS)
    assert bad.status_code == 400
    assert "无效的 arXiv 编号 &#39;not-an-id&#39;：请使用 2401.12345" in bad.text
    assert "invalid arXiv id" not in bad.text
    assert "invalid arXiv id &#39;not-an-id&#39;: use a form like" in c.post(
        "/profile/ids", data={"ids": "not-an-id", "csrf": token}, headers=EN_HEADERS).text
    bib = c.post("/profile/upload", data={"csrf": token}, headers=ZH_HEADERS,
                 files={"file": ("lib.bib", b"not bibtex {{{", "application/x-bibtex")})
    assert bib.status_code == 400 and "中没有 BibTeX 条目：请确认它是 .bib 导出文件" in bib.text
    added = c.post("/profile/terms", data={"kind": "keyword", "value": "<i>code released</i>",
                                           "csrf": token}, headers=ZH_HEADERS)
    # the user's words stay theirs (and text): only the sentence around them is translated
    assert "已添加 &lt;i&gt;code released&lt;/i&gt;" in added.text
    first, second = [p.id for p in web_single.store.listing(DAY1)][110:112]
    typed = c.post("/profile/ids", data={"ids": f"{first} {second}", "csrf": token},
                   headers=ZH_HEADERS)
    assert "手动添加：2 个条目 → " in typed.text and "（新增 2 篇，移除 0 篇）" in typed.text
    assert "+2 new" in c.get(typed.url, headers=EN_HEADERS).text


def test_every_reason_and_message_has_a_chinese_form_with_the_same_values() -> None:
    def fields(text: str) -> set[str]:
        return {m.split(":")[0] for m in re.findall(r"\{([^{}]+)\}", text)}

    for english in TEMPLATES.values():
        assert english in ZH and fields(ZH[english]) == fields(english), english
    for english, chinese in MESSAGES.items():
        assert fields(chinese) == fields(english), english
    # values of the wrong type (a corrupted row) drop the parts, not the page
    broken = "LLM text · " + encode([Part("close", {"title": "T", "sim": "high"})])
    assert render(broken) == translator("zh").reason(broken) == "LLM text"
    assert render("no parts; plain") == "no parts; plain"


def test_the_llm_layers_reason_reads_in_the_users_language() -> None:
    """What the optional LLM adds before the ranker's reason — its scores, a screened
    instruction — is Chinese on a Chinese page too; its own sentence (written in the
    user's language) and a plain ranker reason stored by older code pass through."""
    from papersift.llm.lift import SPLIT
    from papersift.llm.rerank import explain
    from papersift.store.llm import Judgement

    judged = Judgement("ann", "2511.00001", "h", "v" + SPLIT, "m", "p", 8.0, 6.0,
                       "与你的长上下文工作相关。", "", "zh", flagged=True)
    stored = explain(judged, encode([Part("nothing")]))
    assert translator("zh").reason(stored) == (
        "与你的长上下文工作相关。（LLM：相关度 8/10，新颖度 6/10）；其文本试图指挥模型，该部分已被"
        "忽略；远高于其本地排名，因此分别用其文本的两半复核 · 与你的档案没有匹配")
    assert render(stored) == (
        "与你的长上下文工作相关。 (LLM: relevance 8/10, novelty 6/10); its text addressed the "
        "model and that part was ignored; far above its local rank, so checked on each half "
        "of its text · no match in your profile")
    assert render(explain(judged, "close to test paper 0")).endswith(" · close to test paper 0")
