"""Reference data of the pilot: the eight sectors and three powertrains, in their official order.

This is the one place they are defined; pages, workbooks, charts and the API read them here.
"""

from dataclasses import dataclass

# The pilot aims at this NEV share of new vehicles in the sectors that carry it.
NEV_SHARE_AIM = 0.8


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    # The pilot aims at an 80 % NEV share of new vehicles in these sectors.
    share_aim: float | None


@dataclass(frozen=True)
class Powertrain:
    code: str
    name_zh: str
    name_en: str


CATEGORIES: tuple[Category, ...] = (
    Category("official", "公务用车", "Official cars", None),
    Category("bus", "城市公交", "City buses", NEV_SHARE_AIM),
    Category("sanitation", "环卫", "Sanitation", NEV_SHARE_AIM),
    Category("taxi", "出租(含网约车)", "Taxis (incl. ride-hailing)", NEV_SHARE_AIM),
    Category("postal", "邮政快递", "Postal & express", NEV_SHARE_AIM),
    Category("logistics", "城市物流配送", "Urban logistics", NEV_SHARE_AIM),
    Category("airport", "机场", "Airport", None),
    Category("heavy_truck", "特定场景重型货车", "Heavy trucks (specific scenarios)", None),
)

POWERTRAINS: tuple[Powertrain, ...] = (
    Powertrain("bev", "纯电动", "Battery electric"),
    Powertrain("phev", "插电式混合动力(含增程式)", "Plug-in hybrid (incl. range-extended)"),
    Powertrain("fcev", "燃料电池", "Fuel cell"),
)

CATEGORY_CODES = tuple(c.code for c in CATEGORIES)
POWERTRAIN_CODES = tuple(p.code for p in POWERTRAINS)
CATEGORY_BY_CODE = {c.code: c for c in CATEGORIES}
POWERTRAIN_BY_CODE = {p.code: p for p in POWERTRAINS}

# The pilot's aim for public charging points added against NEVs added (1 : 1).
CHARGING_POINTS_PER_NEV_AIM = 1.0

ROLES = ("city", "ministry", "admin", "viewer")


def label(item: Category | Powertrain, lang: str) -> str:
    """The item's name in the interface language ('zh' or 'en')."""
    return item.name_zh if lang.startswith("zh") else item.name_en
