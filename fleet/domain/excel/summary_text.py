"""The summary workbook's words, in Chinese and English (sheet names, headings, notes).

Kept as pairs here rather than in the gettext catalog: a workbook is built for a language
given as an argument, outside any request, and its wording follows the official forms.
"""

SHEETS = {
    "overview": ("概览", "Overview"),
    "cities": ("按城市", "By city"),
    "months": ("按月份", "By month"),
    "categories": ("按领域和动力类型", "By sector and powertrain"),
    "data": ("明细数据", "Data"),
}

TEXT = {
    "title": ("公共领域车辆全面电动化先行区试点 新能源汽车推广进展汇总",
              "Public-sector vehicle electrification pilot: NEV progress summary"),
    "national": ("全国", "National"),
    "basis_reported": ("口径：已报送（已提交和已通过的月报）",
                       "Basis: reported (submitted and approved returns)"),
    "basis_verified": ("口径：已核实（仅已通过的月报）", "Basis: verified (approved returns only)"),
    "through": ("统计截至", "Through"),
    "generated": ("生成时间", "Generated"),
    "page_of": ("第 &P 页，共 &N 页", "Page &P of &N"),
    "item": ("指标", "Figure"),
    "value": ("数值", "Value"),
    "note": ("说明", "Note"),
    "target": ("目标（辆）", "Target (vehicles)"),
    "no_target": ("未设定", "not set"),
    "cumulative": ("累计新增新能源汽车（辆）", "Cumulative new NEVs"),
    "pct_target": ("完成目标比例", "% of target"),
    "this_month": ("当月新增", "Added in the month"),
    "window_months": ("报送期月数", "Months in the reporting window"),
    "elapsed_months": ("已过月数", "Months elapsed"),
    "elapsed_share": ("报送期已过比例", "Share of the window elapsed"),
    "expected": ("按时间进度应完成（辆）", "Expected by now on a straight line"),
    "projection": ("预计期末累计（辆）", "Projected total at the window's end"),
    "projection_note": ("按最近 %(n)s 个月平均每月 %(rate)s 辆，乘以剩余 %(left)s 个月，"
                        "加上已累计数",
                        "Cumulative so far + the average of the last %(n)s months "
                        "(%(rate)s a month) × %(left)s months left"),
    "on_track": ("预计能否完成目标", "On track for the target"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "all_new": ("全部新增车辆（含非新能源）", "All new vehicles (NEV or not)"),
    "nev_share": ("新能源占比", "NEV share"),
    "vin_backed": ("有VIN明细的新能源汽车（辆）", "NEVs backed by a VIN"),
    "vin_coverage": ("VIN覆盖率", "VIN coverage"),
    "charging": ("新增公共充电桩（个）", "Public charging points added"),
    "charging_ratio": ("充电桩与新能源汽车之比", "Charging points per NEV"),
    "charging_aim": ("试点目标 1 : 1", "The pilot aims at 1 : 1"),
    "swap": ("新增换电站（座）", "Battery-swap stations added"),
    "expected_returns": ("应报月报（已到期）", "Returns due"),
    "received": ("已报月报", "Returns received"),
    "on_time": ("按时报送", "On time"),
    "late": ("迟报", "Late"),
    "missing": ("缺报", "Missing"),
    "returned": ("其中退回待改", "of which sent back"),
    "completeness": ("报送完整率", "Completeness"),
    "timeliness": ("按时报送率", "Timeliness"),
    "city_targets": ("各城市目标合计（辆）", "Sum of the cities' targets"),
    "without_target": ("未设目标的城市数", "Cities without a target"),
    "code": ("城市代码", "City code"),
    "city": ("城市", "City"),
    "province": ("省份", "Province"),
    "batch": ("批次", "Batch"),
    "total": ("合计", "Total"),
    "month": ("月份", "Month"),
    "sector": ("领域", "Sector"),
    "nev_total": ("新能源汽车合计", "NEVs"),
    "cumulative_short": ("累计新增", "Cumulative"),
    "path": ("按时间进度应完成", "Straight-line path to target"),
    "aim": ("试点目标占比", "Pilot aim"),
    "meets_aim": ("是否达到", "Meets the aim"),
    "chart_progress": ("累计新增新能源汽车与时间进度",
                       "Cumulative new NEVs and the path to target"),
    "chart_monthly": ("每月新增新能源汽车（按领域）", "New NEVs per month, by sector"),
    "vehicles": ("辆", "vehicles"),
    "data_print_note": ("本表共 %(n)s 行明细数据，供筛选和数据透视表使用；默认只打印表头。"
                        "如需打印全部明细，请先取消打印区域（页面布局 → 打印区域）。",
                        "%(n)s rows of data, for filters and pivot tables; a default print "
                        "gives the heading row only. To print them all, clear the print area "
                        "first (Page Layout → Print Area)."),
    "formula_note": ("合计与比例为公式，随数据重新计算", "Totals and ratios are formulas"),
}


def text(key: str, lang: str) -> str:
    """The workbook's text `key` in `lang` ('zh' or 'en')."""
    zh, en = TEXT[key]
    return zh if lang == "zh" else en
