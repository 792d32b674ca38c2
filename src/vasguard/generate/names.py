"""Word lists the generator composes names from, so that generated data reads like the real
catalogue (company names, service names, plans) rather than ``service-123``."""

from __future__ import annotations

# Where partner companies are registered.
COMPANY_PLACES: tuple[str, ...] = (
    "北京", "上海", "深圳", "广州", "杭州", "南京", "成都", "武汉", "西安", "重庆",
    "天津", "苏州", "长沙", "郑州", "济南", "青岛", "厦门", "福州", "合肥", "昆明",
    "南宁", "沈阳", "大连", "哈尔滨", "长春", "石家庄", "太原", "南昌", "贵阳", "兰州",
    "乌鲁木齐", "海口", "呼和浩特", "银川", "西宁", "珠海", "东莞", "宁波", "无锡", "佛山",
)  # fmt: skip

# The distinctive part of a company name (字号); also used as the brand of its services.
COMPANY_CORES: tuple[str, ...] = (
    "星云", "华讯", "联创", "明道", "智信", "云帆", "蓝海", "卓越", "博远", "鼎盛",
    "汇通", "掌上", "乐动", "网联", "易达", "金桥", "银河", "中科", "世纪", "鸿运",
    "创想", "万维", "极光", "飞扬", "信达", "恒通", "瑞德", "天润", "华彩", "新视界",
    "快乐", "优讯", "指尖", "移联", "亿动", "捷通", "同创", "远景", "朗讯", "嘉禾",
    "泰和", "宏图", "翰林", "书香", "悦读", "乐享", "欢聚", "彩虹", "阳光", "丰收",
    "绿野", "金农", "启明", "育才", "知行", "康宁", "安康", "盛世", "凌云", "迅捷",
    "聚力", "博通", "华夏", "神州", "九州", "东方", "南方", "北辰", "长城", "黄河",
)  # fmt: skip

COMPANY_TRADES: tuple[str, ...] = (
    "信息技术", "网络科技", "通信技术", "文化传媒", "数码科技", "软件技术",
    "互动娱乐", "电子商务", "移动科技", "信息服务", "传媒", "科技发展",
)  # fmt: skip

COMPANY_FORMS: tuple[str, ...] = ("有限公司", "有限公司", "有限公司", "股份有限公司")

# Per category: the stems of service names, a brand or edition is added around them.
CATEGORY_STEMS: dict[str, tuple[str, ...]] = {
    "news": ("手机报", "新闻早晚报", "要闻速递", "晚报", "体育快讯", "法制报", "时政要闻"),
    "music": ("彩铃", "音乐随身听", "无线音乐", "流行金曲", "经典老歌", "铃声下载", "歌曲点播"),
    "weather": ("天气预报", "气象快讯", "天气早知道", "出行天气", "农业气象"),
    "reading": ("手机阅读", "小说连载", "掌上书城", "精品杂志", "美文欣赏", "笑话大全"),
    "games": ("游戏大厅", "休闲游戏", "棋牌乐园", "手机网游", "益智游戏", "游戏包月"),
    "video": ("手机视频", "影视频道", "动漫频道", "体育视频", "直播间", "短视频"),
    "finance": ("财经资讯", "股市快报", "理财助手", "基金早知道", "证券信息", "彩票资讯"),
    "education": ("英语学习", "每日一词", "考试助手", "育儿宝典", "职业培训", "高考资讯"),
    "health": ("健康百科", "养生宝典", "健康提醒", "女性健康", "手机医疗", "母婴健康"),
    "lifestyle": ("生活播报", "美食指南", "旅游资讯", "星座运势", "交通路况", "时尚生活"),
    "ringback_group": ("集团彩铃", "企业彩铃", "单位炫铃"),
    "school": ("校讯通", "家校互动", "平安校园", "成绩通"),
    "farm": ("农信通", "农业科技", "农产品行情", "致富信息"),
    "mailbox": ("139邮箱", "手机邮箱", "企业邮箱"),
}

# Editions that distinguish several services of the same stem.
EDITIONS: tuple[str, ...] = (
    "", "", "", "精华版", "精品版", "VIP版", "会员版", "早间版", "晚间版", "包月",
    "标准版", "尊享版", "增强版", "畅享版", "特惠版",
)  # fmt: skip

# What keeps a service out of the charge reminder; the catalogue must say why.
EXEMPT_REASONS: tuple[str, ...] = (
    "合作方计费接口不支持提醒回调",
    "legacy IVR billing",
    "机卡绑定业务由终端确认",
    "存量WAP计费通道不支持二次确认与提醒",
)
GROUP_PAID_EXEMPT_REASON = "集团统付业务由单位确认"

# (code prefix, brand, monthly fees in yuan): the operator's tariff families.
PLAN_FAMILIES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("MZONE", "动感地带", (8, 18, 28, 38, 58, 88)),
    ("GOTONE", "全球通", (58, 88, 128, 158, 188, 288, 388, 588, 888)),
    ("EASYOWN", "神州行", (8, 18, 28, 38, 58)),
    ("FEIXIANG", "4G飞享", (18, 28, 38, 48, 58, 88, 138)),
    ("FAMILY", "和家庭", (58, 88, 128, 158)),
    ("DATA", "流量王", (18, 38, 58, 98, 138)),
    ("CAMPUS", "动感地带校园", (10, 18, 28)),
)

# How many of the first OWN_NATIONAL services a plan may include (the 0000 listing hides them).
PLAN_INCLUDABLE_COUNT = 10

# The operator's national services (name, category); the plan-includable ones come first.
OWN_NATIONAL: tuple[tuple[str, str], ...] = (
    ("全国手机报", "news"), ("彩铃功能", "music"), ("139邮箱免费版", "mailbox"),
    ("天气预报", "weather"), ("无线音乐俱乐部普通会员", "music"), ("手机阅读包月", "reading"),
    ("飞信会员", "lifestyle"), ("号簿管家", "lifestyle"), ("12580生活播报", "lifestyle"),
    ("手机视频基础包", "video"), ("无线音乐俱乐部高级会员", "music"),
    ("无线音乐俱乐部特级会员", "music"), ("139邮箱5元版", "mailbox"),
    ("139邮箱20元版", "mailbox"), ("集团彩铃", "ringback_group"), ("彩铃DIY", "music"),
    ("手机游戏畅玩包", "games"), ("手机阅读精品包", "reading"), ("手机视频会员", "video"),
    ("手机证券", "finance"), ("手机医疗健康", "health"), ("和教育", "education"),
    ("校讯通", "school"), ("农信通", "farm"), ("手机导航", "lifestyle"),
    ("12580美食", "lifestyle"), ("手机动漫", "video"), ("体育手机报", "news"),
    ("财经手机报", "finance"), ("健康手机报", "health"),
)  # fmt: skip

# Provincial editions of own services: the province name goes in front.
OWN_LOCAL_STEMS: tuple[tuple[str, str], ...] = (
    ("手机报", "news"), ("天气", "weather"), ("交通路况", "lifestyle"), ("校讯通", "school"),
    ("农信通", "farm"), ("集团彩铃", "ringback_group"), ("生活播报", "lifestyle"),
    ("健康", "health"), ("教育", "education"), ("财经", "finance"), ("音乐", "music"),
    ("阅读", "reading"), ("游戏", "games"), ("视频", "video"),
)  # fmt: skip
OWN_LOCAL_EDITIONS: tuple[str, ...] = ("", "早晚版", "精华版")
