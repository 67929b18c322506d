"""The UI in English and Chinese: English strings are the keys of a small catalogue.

A user's choice is stored with their account; without one, the browser's Accept-Language
decides. Paper text is never translated (it is the authors')."""

from __future__ import annotations

from collections.abc import Callable

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


def translator(lang: str) -> Callable[..., str]:
    table = CATALOGUES.get(lang, {})

    def gettext(text: str, **values: object) -> str:
        out = table.get(text, text)
        return out.format(**values) if values else out

    return gettext
