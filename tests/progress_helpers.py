"""The small progress fixture shared by the figures, pages, charts and API tests.

Three active cities and one inactive, months 2025-01..2025-03; from 2025-04-11 on, all three
months are past their due date (10 April for March):

    Shenzhen (target 1,000)  Jan approved   bus bev 10 phev 2 (all new 15), taxi bev 20;
                                            30 charging points, 1 swap station
                             Feb submitted late   bus bev 5, logistics bev 8 fcev 2
                                            (all new 12); 10 charging points
                             Mar returned   bus bev 100 (never counted)
    Beijing (target 2,000)   Jan submitted  taxi bev 40 phev 10 (all new 60); 50 points
                             Feb —          (missing)
                             Mar approved late   heavy_truck fcev 5, sanitation bev 7; 3 points
    Wuxi (no target)         Jan draft      bus bev 50 (never counted)
                             Feb approved   postal bev 4 (all new 10)
                             Mar —
    Tianjin (inactive)       Jan approved   bus bev 1,000 (never counted nationally)

Reported (submitted + approved): 113 NEVs (Jan 82, Feb 19, Mar 12); verified: 48.
"""

from fleet.extensions import db

from .factories import make_city, make_return


def make_progress_fixture() -> dict:
    sz = make_city("440300", "深圳市", "Shenzhen", nev_target=1000)
    bj = make_city("110000", "北京市", "Beijing", nev_target=2000, province_zh="北京市")
    wx = make_city("320200", "无锡市", "Wuxi", province_zh="江苏省")
    wx.nev_target = None  # the pilot list may have loaded it; the fixture wants no target
    tj = make_city("120000", "天津市", "Tianjin", province_zh="天津市")
    tj.active = False
    db.session.commit()
    make_return(sz, "2025-01", "approved", {"bus": {"bev": 10, "phev": 2}, "taxi": {"bev": 20}},
                {"bus": 15}, charging_points=30, swap_stations=1)
    make_return(sz, "2025-02", "submitted", {"bus": {"bev": 5},
                                             "logistics": {"bev": 8, "fcev": 2}},
                {"logistics": 12}, charging_points=10, submitted_late=True)
    make_return(sz, "2025-03", "returned", {"bus": {"bev": 100}},
                review_comment="公交新增数量有误，请核实")
    make_return(bj, "2025-01", "submitted", {"taxi": {"bev": 40, "phev": 10}}, {"taxi": 60},
                charging_points=50)
    make_return(bj, "2025-03", "approved", {"heavy_truck": {"fcev": 5},
                                            "sanitation": {"bev": 7}},
                charging_points=3, submitted_late=True)
    make_return(wx, "2025-01", "draft", {"bus": {"bev": 50}})
    make_return(wx, "2025-02", "approved", {"postal": {"bev": 4}}, {"postal": 10})
    make_return(tj, "2025-01", "approved", {"bus": {"bev": 1000}})
    return {"sz": sz, "bj": bj, "wx": wx, "tj": tj}
