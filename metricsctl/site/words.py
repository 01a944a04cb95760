"""The site's own words in each language it speaks; metric labels and descriptions stay as written."""

from __future__ import annotations

from metricsctl.errors import MetricsctlError

LANGUAGES = ("en", "zh")

_EN = {
    "title": "Metric center", "overview": "Overview", "catalog": "Catalog", "tree": "Metric tree",
    "scorecards": "Scorecards", "funnels": "Funnels", "alerts": "Alerts", "quality": "Data quality",
    "explore": "Explore", "kpis": "Key metrics", "open_alerts": "Open alerts", "stale": "Stale metrics",
    "freshness": "Freshness of sources", "search": "Search metrics", "all": "all", "owner": "Owner",
    "level": "Level", "type": "Type", "unit": "Unit", "kpi": "KPI", "direction": "Direction",
    "description": "Description", "formula": "Formula", "definition": "As defined", "inputs": "Inputs",
    "parents": "Parents", "children": "Children", "sources": "Source systems", "trend": "Trend",
    "breakdown": "Breakdown", "alert_history": "Alert history", "input_quality": "Expectations of its inputs",
    "lineage": "Lineage", "sql": "Generated SQL", "value": "Value", "previous": "Previous", "change": "Change",
    "target": "Target", "attainment": "Attainment", "period": "Period", "latest": "Latest complete period",
    "day": "Day", "week": "Week", "month": "Month", "metric": "Metric", "label": "Label", "score": "Score",
    "rank": "Rank", "org_unit": "Org unit", "weight": "Weight", "step": "Step",
    "conversion": "Conversion", "lost": "Lost", "value_lost": "Value lost",
    "worth": "One conversion is worth", "none": "None", "rule": "Rule", "series": "Series",
    "severity": "Severity", "fired": "Fired", "resolved": "Resolved", "open": "open",
    "suite": "Suite", "relation": "Relation", "expectation": "Expectation", "result": "Result",
    "unexpected": "Unexpected rows", "run_at": "Run at", "pass": "pass", "fail": "fail", "error": "error",
    "metrics": "Metrics", "group_by": "Group by", "where": "Where", "start_time": "Start", "end_time": "End",
    "order_by": "Order by", "limit": "Limit", "run": "Run", "rows": "rows",
    "explore_needs_server": "Explore asks the warehouse: open this site through `metricsctl docs serve`.",
    "no_data": "No data.", "as_of": "Data as of", "generated": "Generated", "higher": "higher is better",
    "lower": "lower is better", "expand_all": "Expand all", "collapse_all": "Collapse all",
    "no_alerts_run": "No alert history: alerts have not run with state in this warehouse.",
    "no_quality_run": "No expectation results: the suites have not run in this warehouse.",
    "healthy": "Every metric's inputs passed their expectations.", "observed": "Observed",
    "members": "Members", "total": "Total", "company": "company", "defined_in": "Defined in", "filtered": "filtered",
    "days": "days", "daily_window": "Daily values of the {days} days before {as_of}.",
    "no_kpis": "No metric is a KPI yet: set `kpi: true` in a metric's config.meta.",
}

_ZH = {
    "title": "指标中心", "overview": "概览", "catalog": "指标目录", "tree": "指标树", "scorecards": "计分卡",
    "funnels": "漏斗", "alerts": "告警", "quality": "数据质量", "explore": "探索", "kpis": "关键指标",
    "open_alerts": "未关闭告警", "stale": "过期指标", "freshness": "数据源新鲜度", "search": "搜索指标",
    "all": "全部", "owner": "负责人", "level": "层级", "type": "类型", "unit": "单位", "kpi": "KPI",
    "direction": "方向", "description": "说明", "formula": "公式", "definition": "定义", "inputs": "输入",
    "parents": "上级指标", "children": "下级指标", "sources": "来源系统", "trend": "趋势", "breakdown": "分解",
    "alert_history": "告警历史", "input_quality": "输入数据的校验结果", "lineage": "血缘", "sql": "生成的 SQL",
    "value": "数值", "previous": "上期", "change": "变化", "target": "目标", "attainment": "达成率",
    "period": "期间", "latest": "最近完整期间", "day": "日", "week": "周", "month": "月", "metric": "指标",
    "label": "名称", "score": "得分", "rank": "排名", "org_unit": "组织单元", "weight": "权重",
    "step": "步骤", "conversion": "转化率", "lost": "流失", "value_lost": "流失价值",
    "worth": "单次转化价值", "none": "无", "rule": "规则",
    "series": "序列", "severity": "级别", "fired": "触发时间", "resolved": "解决时间",
    "open": "未关闭", "suite": "校验套件", "relation": "数据表", "expectation": "校验项", "result": "结果",
    "unexpected": "异常行数", "run_at": "运行时间", "pass": "通过", "fail": "失败", "error": "错误",
    "metrics": "指标", "group_by": "分组", "where": "筛选", "start_time": "开始", "end_time": "结束",
    "order_by": "排序", "limit": "行数上限", "run": "查询", "rows": "行",
    "explore_needs_server": "探索页需要查询数仓：请通过 `metricsctl docs serve` 打开本站点。",
    "no_data": "暂无数据。", "as_of": "数据截至", "generated": "生成时间", "higher": "越高越好",
    "lower": "越低越好", "expand_all": "全部展开", "collapse_all": "全部折叠",
    "no_alerts_run": "暂无告警历史：此数仓尚未保存告警状态。",
    "no_quality_run": "暂无校验结果：此数仓尚未运行校验套件。",
    "healthy": "所有指标的输入数据均通过校验。", "observed": "观测值", "members": "成员", "total": "合计",
    "company": "公司", "defined_in": "定义位置", "filtered": "已筛选", "days": "天",
    "daily_window": "日数据：{as_of} 之前的 {days} 天。",
    "no_kpis": "尚无 KPI：在指标的 config.meta 中设置 `kpi: true`。",
}

WORDS: dict[str, dict[str, str]] = {"en": _EN, "zh": _ZH}


def words(lang: str) -> dict[str, str]:
    """The site's words in `lang` (en or zh)."""
    if lang not in WORDS:
        raise MetricsctlError(f"--lang must be one of {', '.join(LANGUAGES)}, not '{lang}'")
    return dict(WORDS[lang])
