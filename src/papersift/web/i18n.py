"""The UI in English and Chinese: English strings are the keys of a small catalogue.

A user's choice is stored with their account; without one, the browser's Accept-Language
decides. The ranker's reasons are translated from their parts (papersift.rank.reasons), and
the errors and notes other modules write in English by matching MESSAGES. Paper text is
never translated (it is the authors'), nor is what the user typed."""

from __future__ import annotations

import functools
import re

from papersift.rank.reasons import render

LANGS = ("en", "zh")

ZH: dict[str, str] = {
    "Digest": "每日推荐",
    "Search": "搜索",
    "Profile": "个人档案",
    "Pictures": "图表",
    "Account": "账户",
    "Sign in": "登录",
    "Sign out": "退出登录",
    "User": "用户名",
    "Password": "密码",
    "Current password": "当前密码",
    "New password": "新密码",
    "Change password": "修改密码",
    "Password changed: other sessions were signed out.": "密码已修改：其他会话已退出。",
    "Wrong user name or password.": "用户名或密码错误。",
    "Too many failed sign-ins: try again in {minutes} minutes.":
        "登录失败次数过多：请 {minutes} 分钟后再试。",
    "Language": "语言",
    "No digest yet": "还没有推荐",
    "Run `papersift daily` (or let `papersift serve` run it after the announcement).":
        "运行 `papersift daily`（或让 `papersift serve` 在公告后自动运行）。",
    "Digest of {day}": "{day} 的推荐",
    "{n} papers picked from {total} listed": "从 {total} 篇新论文中挑选了 {n} 篇",
    "Earlier days": "往日",
    "Why": "推荐理由",
    "score": "得分",
    "Show more below the threshold": "显示阈值以下的更多论文",
    "Below the threshold": "阈值以下",
    "closest to your library": "与你的文库最接近",
    "Like": "喜欢",
    "Dislike": "不喜欢",
    "Save": "收藏",
    "Dismiss": "忽略",
    "Your rating": "你的评价",
    "liked": "已喜欢",
    "disliked": "已不喜欢",
    "saved": "已收藏",
    "dismissed": "已忽略",
    "Abstract": "摘要",
    "Comments": "备注",
    "Authors": "作者",
    "Categories": "分类",
    "Announced": "公布日期",
    "Why it was recommended": "推荐原因",
    "Not in any of your digests.": "未出现在你的推荐中。",
    "Why it was not recommended": "未被推荐的原因",
    "It is in no daily listing in the store (papers harvested with `fetch --from` or looked "
    "up by id have none), so no digest could pick it.":
        "它不在存储中的任何每日列表里（用 `fetch --from` 收割或按编号查找的论文没有列表），"
        "所以任何推荐都不可能选中它。",
    "You have no digest yet.": "你还没有任何推荐。",
    "It was listed on {day}, before your first digest ({first}).":
        "它于 {day} 公布，早于你的第一份推荐（{first}）。",
    "It was listed on {day}, after your latest digest ({last}).":
        "它于 {day} 公布，晚于你最近的一份推荐（{last}）。",
    "It was listed on {day}, a day you have no digest for.":
        "它于 {day} 公布，而你那天没有推荐。",
    "Its categories ({categories}) are outside those papersift reads (arxiv.categories: "
    "{wanted}).":
        "它的分类（{categories}）不在 papersift 读取的分类之内（arxiv.categories：{wanted}）。",
    "Your muted topic “{term}” hits it.": "它命中了你屏蔽的主题“{term}”。",
    "You {action} it: papers you rated are never recommended again.":
        "你{action}这篇论文：评价过的论文不会再被推荐。",
    "It is in your library: papers you already have are never recommended.":
        "它在你的文库中：已有的论文不会被推荐。",
    "Scored with your current profile against the {candidates} candidates of {day}: "
    "{score:.2f}, #{rank} of {candidates}.":
        "按你当前的档案与 {day} 的 {candidates} 篇候选论文一起评分：得分 {score:.2f}，"
        "在 {candidates} 篇中排第 {rank} 位。",
    "It beats {level:.0%} of recent papers, below your threshold (digest.min_level = "
    "{min_level}: better than {min_level:.0%} of them).":
        "它胜过 {level:.0%} 的近期论文，低于你的阈值（digest.min_level = {min_level}："
        "需胜过 {min_level:.0%}）。",
    "It came #{place} of the papers your threshold lets through, and the digest keeps at "
    "most {size} (digest.size).":
        "在通过你阈值的论文中它排第 {place} 位，而推荐最多保留 {size} 篇（digest.size）。",
    "With your current profile it would now make the digest (#{place}): your library or "
    "ratings changed after the digest of {day} was made.":
        "按你当前的档案，它现在会进入推荐（第 {place} 位）：{day} 的推荐生成之后，"
        "你的文库或评价有了变化。",
    "The ranker's reason: {reason}": "排序器给出的理由：{reason}",
    "It could not be scored against its day: {problem}": "无法与当天的论文一起评分：{problem}",
    "In your digest of {day} (#{rank}, score {score}).":
        "出现在 {day} 的推荐中（第 {rank} 位，得分 {score}）。",
    "Similar papers": "相似论文",
    "Close to these papers of your library": "与你文库中这些论文相近",
    "Similar papers need the embedding model, which could not be loaded.":
        "相似论文需要嵌入模型，但模型无法加载。",
    "Keywords": "关键词",
    "Semantic": "语义",
    "Keyword": "关键词匹配",
    "Category": "分类",
    "From": "起始",
    "Until": "截止",
    "Author": "作者",
    "No results.": "没有结果。",
    "{n} results": "{n} 条结果",
    "Library": "文库",
    "Sources": "来源",
    "papers": "篇论文",
    "Remove": "移除",
    "Add": "添加",
    "Upload BibTeX or RIS": "上传 BibTeX 或 RIS",
    "Upload": "上传",
    "Zotero library": "Zotero 文库",
    "arXiv ids or links": "arXiv 编号或链接",
    "Only these collections (comma-separated)": "只导入这些分类（逗号分隔）",
    "Leave out these collections": "排除这些分类",
    "Your Zotero API key (private libraries; kept for you alone)":
        "你的 Zotero API 密钥（读取私有文库用；只为你保存）",
    "Followed authors": "关注的作者",
    "Muted topics": "屏蔽的主题",
    "Interest clusters": "兴趣聚类",
    "Feedback history": "评价记录",
    "Nothing yet.": "暂无。",
    "Interest map": "兴趣地图",
    "Your library (filled) and recent recommendations (rings), by interest cluster; "
    "hover for titles.":
        "你的文库（实心）与近期推荐（空心），按兴趣聚类着色；悬停查看标题。",
    "Your topics, day by day": "你的主题，逐日变化",
    "One colour per interest cluster, as on the map. Above: papers listed each day close to "
    "it; below: the top digest score among the day's picks nearest to it. Hover for the "
    "numbers.":
        "每个兴趣簇一种颜色，与兴趣图一致。上：每天公布的与它相近的论文数；下：当天推荐中最接近它的"
        "论文的最高得分。鼠标悬停可看数值。",
    "Add papers to your library to see the trends of your topics.":
        "把论文加入你的文库，即可看到你的主题的趋势。",
    "The current password is wrong.": "当前密码错误。",
    "Not enough papers with embeddings to draw a map yet.":
        "带嵌入向量的论文还不够，暂无法绘制地图。",
    "Thanks — rated.": "谢谢——已记录评价。",
    "Back to the digest": "返回推荐",
    "Page not found": "页面不存在",
    "Request refused": "请求被拒绝",
    "The form expired: reload the page and try again.": "表单已过期：请刷新页面后重试。",
    "Not found": "未找到",
    "Switch": "切换",
    "abs": "摘要页",
    "PDF": "PDF",
    "HTML": "HTML",
    # a ranker's reason (papersift.rank.reasons.TEMPLATES) and how its lists are joined
    "; ": "；",
    ", ": "、",
    "author you follow: {names}": "你关注的作者：{names}",
    "keyword: {names}": "关键词：{names}",
    "close to “{title}” ({sim:.2f})": "与“{title}”相近（{sim:.2f}）",
    "close to “{title}” ({sim:.2f}), which you 👍'd": "与你 👍 过的“{title}”相近（{sim:.2f}）",
    "matches your interests description ({sim:.2f})": "符合你的兴趣描述（{sim:.2f}）",
    "no match in your profile": "与你的档案没有匹配",
    "by {names}, author of a paper you 👍'd": "作者 {names} 写过你 👍 过的论文",
    "interest: “{title}”": "兴趣：“{title}”",
    "interest: “{title}” and {more} more": "兴趣：“{title}”及另外 {more} 篇",
    "interest: your interests description": "兴趣：你的兴趣描述",
    "terms: {terms}": "关键词语：{terms}",
    "top {share:.1f}% of recent papers": "位列近期论文前 {share:.1f}%",
    "quality: {cues}": "质量：{cues}",
    "{reason} (LLM: relevance {relevance}/10, novelty {novelty}/10)":
        "{reason}（LLM：相关度 {relevance}/10，新颖度 {novelty}/10）",
    "its text addressed the model and that part was ignored": "其文本试图指挥模型，该部分已被忽略",
    "far above its local rank, so checked on each half of its text":
        "远高于其本地排名，因此分别用其文本的两半复核",
    "its text addressed the model and its judgement failed": "其文本试图指挥模型，且模型评判失败",
    "{said}": "{said}",
    "": "",
}

# Finished English sentences other modules write — errors and notes that reach a page,
# quality cues in reasons — as templates (`{x}` any text, `{x:n}` a number, `{x:t}` our
# own words, translated in turn), the most specific first. Their values are the user's
# (a keyword, a file name) and stay as they are.
MESSAGES: dict[str, str] = {
    # the profile page's notes (papersift.web.app, AddReport.summary)
    "removed {location} ({n:n} papers)": "已移除 {location}（{n} 篇论文）",
    "removed {value}": "已移除 {value}",
    "added {value}": "已添加 {value}",
    "{where:t}: {entries:t} → {papers:t} (+{added:n} new, −{removed:n} gone)":
        "{where}：{entries} → {papers}（新增 {added} 篇，移除 {removed} 篇）",
    "command line": "手动添加",
    "{n:n} entry": "{n} 个条目",
    "{n:n} entries": "{n} 个条目",
    "{n:n} paper": "{n} 篇论文",
    "{n:n} papers": "{n} 篇论文",
    "{n:n} matched by title": "{n} 篇按标题匹配",
    "{n:n} not found": "{n} 篇未找到",
    "{n:n} warning": "{n} 条警告",
    "{n:n} warnings": "{n} 条警告",
    "notes prose added to your interest description": "笔记中的文字已加入你的兴趣描述",
    # errors of the profile forms, dates and links
    "invalid arXiv id {id}: use a form like 2401.12345, 2401.12345v2, hep-th/9901001 or "
    "https://arxiv.org/abs/2401.12345":
        "无效的 arXiv 编号 {id}：请使用 2401.12345、2401.12345v2、hep-th/9901001 或 "
        "https://arxiv.org/abs/2401.12345 这样的形式",
    "no arXiv id given: type ids like 2401.04088 or their abs/pdf URLs":
        "没有给出 arXiv 编号：请输入 2401.04088 这样的编号或其 abs/pdf 链接",
    "cannot import {name}: upload a .bib, .ris or .txt (arXiv ids) file":
        "无法导入 {name}：请上传 .bib、.ris 或 .txt（arXiv 编号）文件",
    "{name} is larger than {n:n} MiB: split it, or import it with `papersift profile add`":
        "{name} 超过 {n} MiB：请拆分，或用 `papersift profile add` 导入",
    "{path} is not a readable BibTeX file ({kind}): check that it is a .bib export":
        "{path} 不是可读的 BibTeX 文件（{kind}）：请确认它是 .bib 导出文件",
    "{path} holds no BibTeX entries: check that it is a .bib export":
        "{path} 中没有 BibTeX 条目：请确认它是 .bib 导出文件",
    "{path} holds no RIS entries (`TY  -` … `ER  -`): check that it is a .ris export":
        "{path} 中没有 RIS 条目（`TY  -` … `ER  -`）：请确认它是 .ris 导出文件",
    "{spec} is not a Zotero library: use zotero://user/<id> or zotero://group/<id>":
        "{spec} 不是 Zotero 文库：请使用 zotero://user/<id> 或 zotero://group/<id>",
    "empty value: type an author, keyword or topic": "内容为空：请输入作者、关键词或主题",
    "you have no source {source}: reload the profile page": "你没有来源 {source}：请刷新个人档案页",
    "unknown term kind {kind}: use {kinds}": "未知的条目类型 {kind}：请使用 {kinds}",
    "unknown language {lang}: use one of {langs}": "未知的语言 {lang}：请使用 {langs} 之一",
    "invalid date {day}: use YYYY-MM-DD, e.g. 2025-11-12":
        "无效的日期 {day}：请使用 YYYY-MM-DD 格式，例如 2025-11-12",
    "password too short: use at least {n:n} characters": "密码太短：至少需要 {n} 个字符",
    "single-user mode has no password: run `papersift serve` on a non-loopback address or "
    "set web.accounts = true":
        "单用户模式没有密码：请在非回环地址上运行 `papersift serve`，或设置 web.accounts = true",
    "feedback link is malformed: copy the whole link from the digest":
        "评价链接格式错误：请从推荐中复制完整链接",
    "feedback link has a bad signature: use the link from the digest":
        "评价链接签名无效：请使用推荐中的链接",
    "feedback link has expired: rate the paper in the web app instead":
        "评价链接已过期：请在网页中评价这篇论文",
    # quality cues (papersift.quality.scoring.cues)
    "accepted at a venue": "已被会议或期刊接收",
    "accepted at {venue}": "已被 {venue} 接收",
    "workshop paper": "研讨会论文",
    "{venue} workshop paper": "{venue} 研讨会论文",
    "code released": "已公开代码",
    "model/data released": "已公开模型或数据",
    "authors of papers liked here": "作者写过在这里被喜欢的论文",
    "authors' earlier papers drew wide attention": "作者此前的论文广受关注",
    "experienced authors ({n:n} earlier papers)": "作者经验丰富（此前有 {n} 篇论文）",
}

CATALOGUES = {"en": {}, "zh": ZH}


def pick_lang(stored: str | None, accept_language: str | None) -> str:
    """The user's choice, else the supported language the browser prefers most (its
    q-weights, ties in the order given; q=0 means "not this one")."""
    if stored in LANGS:
        return stored
    best, best_q = "en", 0.0
    for part in (accept_language or "").split(","):
        tag, *params = (x.strip().lower() for x in part.split(";"))
        lang = "zh" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0  # a malformed weight counts as a refusal, not a preference
        if lang and q > best_q:
            best, best_q = lang, q
    return best


_PLACEHOLDER = re.compile(r"\{(\w+)(?::([nt]))?\}")


def _pattern(english: str) -> re.Pattern[str]:
    """A MESSAGES template as a regex: `{x}` any text, `{x:n}` a number, `{x:t}` our own
    words, translated in turn."""
    out, at = [], 0
    for m in _PLACEHOLDER.finditer(english):
        out += [re.escape(english[at:m.start()]),
                rf"(?P<{m[1]}>\d+)" if m[2] == "n" else rf"(?P<{m[1]}>.+?)"]
        at = m.end()
    return re.compile("".join([*out, re.escape(english[at:])]) + r"\Z", re.DOTALL)


_MESSAGE_PATTERNS = [(_pattern(en), zh, {m[1] for m in _PLACEHOLDER.finditer(en) if m[2] == "t"})
                     for en, zh in MESSAGES.items()]


class Translator:
    """One language's gettext. `_(template, **values)` fills a catalogue template;
    `_(sentence)` alone also translates the finished English sentences other modules write
    (errors, notes, quality cues), matched against MESSAGES, clause by clause (`; `) when
    the whole does not match; anything unknown stays English."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.table = CATALOGUES.get(lang, {})

    def __call__(self, text: str, **values: object) -> str:
        out = self.table.get(text)
        if out is None:
            return text.format(**values) if values else self._message(text)
        return out.format(**values) if values else out

    def _message(self, text: str) -> str:
        if not self.table:  # English
            return text
        for pattern, template, ours in _MESSAGE_PATTERNS:
            if m := pattern.match(text):
                return template.format(**{k: self(v) if k in ours else v
                                          for k, v in m.groupdict().items()})
        if "; " in text:
            return self("; ").join(self(clause) for clause in text.split("; "))
        return text

    def reason(self, stored: str) -> str:
        """A ranker's reason (papersift.rank.reasons) in this language."""
        return render(stored, self)


@functools.cache
def translator(lang: str) -> Translator:
    return Translator(lang)
