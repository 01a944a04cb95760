"""The demo company's source systems: a deterministic generator of its seed CSVs.

The company makes homeware (kettles, pans, lamps, throws, rugs, office goods) in a small workshop with
three production lines, buys a few office goods in, and sells through four stores and an online shop.
`python -m metricsctl.demo --out seeds --days 547 --orders-per-day 12` writes one CSV per source table,
2024-01-01 .. 2025-06-30 at the default scale, with weekly and yearly seasonality, a 12 % yearly
growth trend and two promotions a year (a spring sale, 10-23 March, and black week, 20-27 November).
The same arguments always give byte-identical files. Every source system draws from its own random
stream, so a change to one system moves only its own numbers and those simulated from them (sales
follow CRM visits; production, purchasing, inventory and marketing follow sales).

Source systems and their seeds:

- CRM: `customers`, `sales_reps` (with regions), `sales_visits` (a rep visits a business customer;
  about three in ten visits are followed by an order of that customer within two weeks), `leads`
  (source channel, converted flag and date, the customer it became).
- ERP: `products` (SKUs, standard unit cost in EUR, made or bought), `production_lines`,
  `production_runs` (planned minutes, run minutes, ideal cycle time in seconds per unit, units
  produced and defective), `purchase_orders` (in the supplier's currency), `fx_rates` (EUR per unit
  of currency, per month), `inventory_balances` (end-of-day units on hand per product; production,
  receipts and sales are simulated together, so balances are consistent with the other tables).
- Point of sale and web shop: `stores`, `promotions`, `store_traffic` (footfall per store and day;
  web sessions for the online shop), `orders`, `order_lines` (price, discount per unit).
- Marketing: `marketing_channels`, `campaigns`, `campaign_spend` (daily spend, impressions and clicks
  per campaign, in the ad platform's billing currency), `attributed_orders` (order -> campaign and
  channel, last click).
- HR / office: `departments` (a hierarchy through parent_department_id), `employees` (department,
  manager, hire and termination dates), `projects` and `tasks` (due date, completed date).
- Finance's spreadsheet: `targets` (metric_name, period_grain, period_start, org_unit, target_value,
  weight): monthly targets for 13 KPIs, for the company, stores, marketing channels and lines.

Planted events, for alert rules:

- Defect-rate spike: production line "Assembly" has a bad solder batch from 2025-03-10 to 2025-03-16;
  15 % of its units are defective that week against its usual 1.8 %.
- Conversion collapse: store "Riverside" loses its card terminals from 2024-10-14 to 2024-10-20;
  footfall is normal but 85 % of its orders are lost, so orders / footfall falls from about 18 % to 3 %.
- ROI slump: marketing channel "paid_social" runs away with its budget in February 2025 (spend x 2.2)
  while it attracts fewer orders (x 0.6); its ROI (attributed gross profit / spend) falls to about 0.8
  against a target of 1.8, the only channel-month under its ROI target.

Planted defects, for the staging models:

- exact duplicate rows: a few in `orders` (about 0.2 %) and in `production_runs` (about 0.5 %);
- nulls: `customers.region` (about 2 %), `sales_reps.region` (the newest rep), `order_lines.
  discount_per_unit` (about 1 %, on promotion and on ordinary lines);
- mistyped dates in the text column `sales_visits.visit_date`: two visits with day and month swapped
  (e.g. '2024-13-05' for 13 May 2024) and three in day/month/year form ('05/03/2024' for 5 March);
- late-arriving rows: `orders.loaded_at` is 2-9 days after the order for about 2 % of orders,
  `production_runs.loaded_at` 3-12 days after the run for about 3 % of runs (others load the next day);
- two currencies besides EUR: paid search and paid social bill in USD, suppliers invoice in EUR, USD
  and GBP (converted with `fx_rates`).
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

Row = list[object]

START = date(2024, 1, 1)
REGIONS = ("north", "south", "east", "west")
WEEKDAY_FACTOR = (0.8, 0.85, 0.9, 1.0, 1.25, 1.5, 1.1)  # Monday .. Sunday
YEARLY_GROWTH = 0.12

# id, name, region, channel, opened, sales area (m2), share of orders, usual conversion (orders / footfall)
STORES = ((1, "Harbour Street", "north", "store", "2016-04-01", 240, 0.20, 0.16),
          (2, "Mill Yard", "south", "store", "2018-09-15", 180, 0.16, 0.14),
          (3, "Riverside", "east", "store", "2019-05-01", 210, 0.18, 0.18),
          (4, "Old Market", "west", "store", "2021-03-20", 160, 0.14, 0.15),
          (5, "Online shop", "online", "online", "2020-06-01", None, 0.32, 0.028))

# id, name, site
LINES = ((1, "Metalworks", "Mill Lane works"), (2, "Assembly", "Mill Lane works"),
         (3, "Textiles", "Weavers Row"))
LINE_DEFECT_RATE = {1: 0.012, 2: 0.018, 3: 0.010}

# id, sku, name, category, list price, unit cost (EUR), line (None: bought in), ideal cycle (s/unit), popularity
ProductRow = tuple[int, str, str, str, float, float, int | None, int | None, float]
PRODUCTS: tuple[ProductRow, ...] = ((1, "KIT-001", "Steel kettle", "kitchen", 39.0, 17.5, 1, 900, 1.2),
            (2, "KIT-002", "Two-slice toaster", "kitchen", 45.0, 21.0, 2, 1200, 1.0),
            (3, "KIT-003", "Chef's knife", "kitchen", 59.0, 22.0, 1, 1200, 0.9),
            (4, "HOM-001", "Linen throw", "home", 79.0, 31.0, 3, 1800, 0.8),
            (5, "HOM-002", "Table lamp", "home", 64.0, 27.5, 2, 1500, 0.8),
            (6, "HOM-003", "Wool rug", "home", 189.0, 88.0, 3, 5400, 0.4),
            (7, "OFF-001", "Desk organiser", "office", 24.0, 8.5, None, None, 1.0),
            (8, "OFF-002", "Notebook set", "office", 14.0, 4.0, None, None, 1.3),
            (9, "KIT-004", "Cast-iron pan", "kitchen", 69.0, 29.0, 1, 1500, 0.8),
            (10, "HOM-004", "Cushion cover", "home", 29.0, 11.0, 3, 900, 1.0),
            (11, "OFF-003", "Desk lamp", "office", 49.0, 21.0, 2, 1200, 0.7),
            (12, "OFF-004", "Pen set", "office", 19.0, 6.5, None, None, 0.9))
# bought-in product -> supplier, currency, lead time in days
SUPPLIERS = {7: ("Pacific Office Supply", "USD", 18), 8: ("Paperworks Ltd", "GBP", 12),
             12: ("Büroform GmbH", "EUR", 7)}

# id, name, group, billing currency, share of orders attributed, ROI it usually earns, CPM (EUR), CTR
CHANNELS = ((1, "paid_search", "paid", "USD", 0.20, 2.6, 8.0, 0.040),
            (2, "paid_social", "paid", "USD", 0.14, 2.8, 5.0, 0.012),
            (3, "email", "owned", "EUR", 0.10, 9.0, 0.6, 0.030),
            (4, "display", "paid", "EUR", 0.08, 2.4, 2.0, 0.003),
            (5, "affiliate", "partner", "EUR", 0.06, 0.0, 4.0, 0.010))
AFFILIATE_COMMISSION = 0.12  # affiliates are paid a share of the revenue they bring
ROI_TARGET = {"paid_search": 1.7, "paid_social": 1.8, "email": 4.0, "display": 1.0, "affiliate": 2.4}

# id, name, parent, cost centre, staff (head included), job title of the staff
DEPARTMENTS = ((1, "Company", None, "CC-000", 1, "Managing director"),
               (2, "Sales", 1, "CC-100", 1, "Sales director"),
               (3, "Field Sales", 2, "CC-110", 9, "Account manager"),
               (4, "Retail Stores", 2, "CC-120", 14, "Sales assistant"),
               (5, "E-commerce", 2, "CC-130", 5, "E-commerce specialist"),
               (6, "Marketing", 1, "CC-200", 6, "Marketing manager"),
               (7, "Operations", 1, "CC-300", 1, "Operations director"),
               (8, "Production", 7, "CC-310", 24, "Production operator"),
               (9, "Supply Chain", 7, "CC-320", 6, "Planner"),
               (10, "Quality", 7, "CC-330", 4, "Quality inspector"),
               (11, "Finance", 1, "CC-400", 5, "Accountant"),
               (12, "People & Office", 1, "CC-500", 4, "People partner"),
               (13, "IT", 12, "CC-510", 4, "IT engineer"))
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira",
               "Liam", "Maya", "Nico", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
               "Wim", "Xenia", "Yusuf", "Zoe")
LAST_NAMES = ("Adler", "Baker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ivanova",
              "Jensen", "Khan", "Larsen", "Moreau", "Novak", "Okafor", "Peters", "Quist", "Rossi", "Silva",
              "Tanaka", "Urban", "Varga", "Weber", "Young", "Zimmer")
PROJECTS = (("Spring catalogue 2024", 6), ("Kettle range refresh", 8), ("ERP upgrade", 13),
            ("Riverside store refit", 4), ("Supplier audit 2024", 10), ("Black week 2024", 6),
            ("Web shop checkout", 5), ("Line 2 retooling", 8), ("Annual accounts 2024", 11),
            ("Onboarding handbook", 12), ("Textile dye trial", 10), ("Key account plan 2025", 3),
            ("Spring catalogue 2025", 6), ("Warehouse racking", 9), ("Payroll migration", 11),
            ("Laptop refresh", 13), ("Energy savings", 7), ("Loyalty programme", 5),
            ("Pan coating trial", 8), ("Budget 2025", 11))

# The planted events (see the module docstring).
DEFECT_SPIKE_LINE = "Assembly"
DEFECT_SPIKE = (date(2025, 3, 10), date(2025, 3, 16))
DEFECT_SPIKE_RATE = 0.15
COLLAPSE_STORE = "Riverside"
COLLAPSE = (date(2024, 10, 14), date(2024, 10, 20))
COLLAPSE_ORDER_LOSS = 0.85
ROI_SLUMP_CHANNEL = "paid_social"
ROI_SLUMP_MONTH = (2025, 2)
ROI_SLUMP_SPEND = 2.2
ROI_SLUMP_ORDERS = 0.6


@dataclass(frozen=True)
class DemoScale:
    """How much data: the defaults give 2024-01-01 .. 2025-06-30 and about 46,500 seed rows."""

    days: int = 547  # eighteen months: 2024-01-01 .. 2025-06-30
    orders_per_day: int = 12
    customers: int = 1200
    seed: int = 7

    @property
    def end(self) -> date:
        return START + timedelta(days=self.days - 1)


@dataclass(frozen=True)
class Promotion:
    promotion_id: int
    code: str
    name: str
    start: date
    end: date
    discount_pct: float


@dataclass
class Tables:
    """The generated tables: name -> (header, rows), in writing order."""

    tables: dict[str, tuple[list[str], list[Row]]] = field(default_factory=dict)

    def add(self, name: str, header: Sequence[str], rows: list[Row]) -> None:
        self.tables[name] = (list(header), rows)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 4))
    return value


def _write(path: Path, header: list[str], rows: list[Row]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([_cell(v) for v in row] for row in rows)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _promotions(end: date) -> list[Promotion]:
    """Two promotions a year: a spring sale (10-23 March) and black week (20-27 November)."""
    promos: list[Promotion] = []
    for year in range(START.year, end.year + 1):
        for code, name, first, last in (("spring_sale", "Spring sale", date(year, 3, 10), date(year, 3, 23)),
                                        ("black_week", "Black week", date(year, 11, 20), date(year, 11, 27))):
            if first <= end:
                promos.append(Promotion(len(promos) + 1, code, f"{name} {year}", first, last, 0.2))
    return promos


class _Company:
    """Simulates the company day by day; each source system has its own random stream."""

    def __init__(self, scale: DemoScale) -> None:
        self.scale = scale
        self.end = scale.end
        self.calendar = _days(START, self.end)
        self.promotions = _promotions(self.end)
        self.promo_by_day = {d: p for p in self.promotions for d in _days(p.start, p.end)}
        self.out = Tables()
        self.months = sorted({_month_start(d) for d in self.calendar})
        self.store_id = {s[1]: s[0] for s in STORES}
        self.channel_id = {c[1]: c[0] for c in CHANNELS}
        self.line_id = {line[1]: line[0] for line in LINES}

    def rng(self, system: str) -> random.Random:
        return random.Random(f"{self.scale.seed}:{system}")

    # --- shared shapes -----------------------------------------------------------------------------
    def expected_orders(self, day: date) -> float:
        """Orders a day is expected to bring: weekday, season, promotion and growth."""
        d = (day - START).days
        season = 1.0 + 0.25 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 80) / 365.0)
        promo = 1.4 if day in self.promo_by_day else 1.0
        trend = 1.0 + YEARLY_GROWTH * d / 365.0
        return self.scale.orders_per_day * WEEKDAY_FACTOR[day.weekday()] * season * promo * trend

    def fx(self, month: date, currency: str) -> float:
        """EUR per unit of the currency in a month."""
        i = (month.year - START.year) * 12 + month.month - 1
        if currency == "USD":
            return round(0.91 + 0.02 * math.sin(i / 3.0), 4)
        if currency == "GBP":
            return round(1.16 + 0.015 * math.cos(i / 4.0), 4)
        return 1.0

    # --- HR / office -------------------------------------------------------------------------------
    def people(self) -> None:
        rng = self.rng("hr")
        names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
        rng.shuffle(names)
        employees: list[Row] = []
        heads: dict[int, int] = {}

        def hire(dept: int, manager: int | None, title: str, hired: date, fte: float) -> int:
            eid = len(employees) + 1
            employees.append([eid, names[eid % len(names)], dept, manager, title, hired, None, fte])
            return eid

        for dept, _name, parent, _cc, staff, title in DEPARTMENTS:
            head_title = title if parent is None or staff == 1 else f"Head of {_name}"
            since = date(2012, 1, 1) + timedelta(days=rng.randrange(0, 2500))
            heads[dept] = hire(dept, heads.get(parent) if parent else None, head_title, since, 1.0)
            for _ in range(staff - 1):
                since = date(2013, 1, 1) + timedelta(days=rng.randrange(0, 4000))
                fte = rng.choice((1.0, 1.0, 1.0, 1.0, 0.8, 0.5))
                hire(dept, heads[dept], title, since, fte)
        # attrition (never a head, never a field sales rep) and replacements; some new positions in 2025
        for row in list(employees):
            eid, dept = int(str(row[0])), int(str(row[2]))
            if eid in heads.values() or dept == 3 or rng.random() > 0.2:
                continue
            left = START + timedelta(days=rng.randrange(0, self.scale.days))
            row[6] = left
            hired = left + timedelta(days=rng.randrange(20, 70))
            if hired <= self.end:
                hire(dept, heads[dept], str(row[4]), hired, float(str(row[7])))
        for dept in (5, 8, 8, 8, 4):
            hired = date(2025, 1, 6) + timedelta(days=rng.randrange(0, 120))
            if hired <= self.end:
                hire(dept, heads[dept], next(str(d[5]) for d in DEPARTMENTS if d[0] == dept), hired, 1.0)
        self.employees = employees
        self.dept_heads = heads
        self.out.add("departments", ["department_id", "department_name", "parent_department_id", "cost_center"],
                     [[d[0], d[1], d[2], d[3]] for d in DEPARTMENTS])
        self.out.add("employees", ["employee_id", "full_name", "department_id", "manager_id", "job_title",
                                   "hire_date", "termination_date", "fte"], employees)

    def projects(self) -> None:
        rng = self.rng("projects")
        projects: list[Row] = []
        tasks: list[Row] = []
        span = self.scale.days
        for i, (name, dept) in enumerate(PROJECTS):
            start = START + timedelta(days=int(i * span / len(PROJECTS)) + rng.randrange(0, 20))
            due = start + timedelta(days=rng.randrange(60, 180))
            staff = [int(str(e[0])) for e in self.employees if e[2] == dept] or [self.dept_heads[dept]]
            project_tasks: list[Row] = []
            for _ in range(rng.randrange(30, 70)):
                created = start + timedelta(days=rng.randrange(0, max(1, int((due - start).days * 0.8))))
                task_due = min(due, created + timedelta(days=rng.randrange(5, 35)))
                if task_due > self.end:
                    continue
                completed: date | None = None
                if rng.random() < 0.94:
                    completed = max(created, task_due + timedelta(days=round(rng.gauss(-3, 6))))
                    if completed > self.end:
                        completed = None
                project_tasks.append([0, i + 1, rng.choice(staff), created, task_due, completed,
                                      rng.choice((2, 4, 4, 8, 8, 16, 24))])
            if start > self.end:
                continue
            project_tasks.sort(key=lambda t: (str(t[3]), str(t[4])))
            for t in project_tasks:
                t[0] = len(tasks) + 1
                tasks.append(t)
            done = bool(project_tasks) and all(t[5] is not None for t in project_tasks) and due <= self.end
            status = "completed" if done else ("active" if start <= self.end else "planned")
            projects.append([i + 1, name, dept, self.dept_heads[dept], start, due, status])
        self.out.add("projects", ["project_id", "project_name", "department_id", "owner_employee_id",
                                  "start_date", "due_date", "status"], projects)
        self.out.add("tasks", ["task_id", "project_id", "assignee_employee_id", "created_date", "due_date",
                               "completed_date", "estimate_hours"], tasks)

    # --- CRM ---------------------------------------------------------------------------------------
    def crm(self) -> None:
        rng = self.rng("crm")
        reps = [e for e in self.employees if e[2] == 3 and int(str(e[0])) != self.dept_heads[3]]
        self.reps: list[Row] = []
        for i, e in enumerate(reps):
            rep_region = REGIONS[i // 2] if i < 2 * len(REGIONS) - 1 else None  # the newest rep has none yet
            self.reps.append([i + 1, e[1], rep_region, e[0]])
        self.out.add("sales_reps", ["sales_rep_id", "rep_name", "region", "employee_id"], self.reps)
        reps_by_region: dict[str | None, list[int]] = defaultdict(list)
        for r in self.reps:
            reps_by_region[None if r[2] is None else str(r[2])].append(int(str(r[0])))

        customers: list[Row] = []
        for cid in range(1, self.scale.customers + 1):
            if rng.random() < 0.3:  # customers from before the period
                signup = date(2021, 1, 1) + timedelta(days=rng.randrange(0, (START - date(2021, 1, 1)).days))
            else:  # new customers arrive a little faster as the company grows: density 0.6 .. 1.4
                u = rng.random()
                signup = START + timedelta(days=int((u if rng.random() < 0.6 else math.sqrt(u)) * self.scale.days))
            region: str | None = rng.choice(REGIONS)
            segment = rng.choice(("consumer", "consumer", "business"))
            account_rep = (rng.choice(reps_by_region[region]) if segment == "business" and reps_by_region[region]
                           else None)
            if rng.random() < 0.02:
                region = None  # planted: missing region
            customers.append([cid, region, segment, signup, account_rep])
        self.customers = customers
        self.out.add("customers", ["customer_id", "region", "segment", "signup_date", "sales_rep_id"], customers)

        # leads: every business customer was a converted lead; most leads never convert
        sources = ("trade_fair", "website", "referral", "paid_search", "cold_call")
        leads: list[Row] = []
        for c in customers:
            signed = c[3]
            if c[2] != "business" or not isinstance(signed, date) or signed < START:
                continue
            created = max(START, signed - timedelta(days=rng.randrange(3, 45)))
            leads.append([0, created, rng.choice(sources), c[1], True, signed, c[0]])
        for _ in range(len(leads) * 5):
            created = START + timedelta(days=rng.randrange(0, self.scale.days))
            leads.append([0, created, rng.choice(sources), rng.choice(REGIONS), False, None, None])
        leads.sort(key=lambda r: (str(r[1]), str(r[6] or "")))
        for i, lead in enumerate(leads):
            lead[0] = i + 1
        self.out.add("leads", ["lead_id", "created_date", "source_channel", "region", "is_converted",
                               "converted_date", "customer_id"], leads)

        # sales visits: reps visit business customers of their region on working days
        business: dict[str | None, list[Row]] = defaultdict(list)
        for c in customers:
            if c[2] == "business":
                business[None if c[1] is None else str(c[1])].append(c)
        visits: list[Row] = []
        self.visit_orders: dict[date, list[int]] = defaultdict(list)
        for day in self.calendar:
            if day.weekday() >= 5:
                continue
            for rep in self.reps:
                if rng.random() > 0.45:
                    continue
                pool = business[str(rep[2])] if rep[2] is not None else [c for v in business.values() for c in v]
                pool = [c for c in pool if isinstance(c[3], date) and c[3] <= day]
                if not pool:
                    continue
                customer = rng.choice(pool)
                kind = "on_site" if rng.random() < 0.7 else "video"
                visits.append([len(visits) + 1, rep[0], customer[0], day.isoformat(), kind,
                               rng.choice((30, 45, 60, 90))])
                if rng.random() < 0.3:  # the visit brings an order within two weeks
                    self.visit_orders[day + timedelta(days=rng.randrange(1, 15))].append(int(str(customer[0])))
        # planted: mistyped dates in the text column (day and month swapped; day/month/year)
        swappable = [v for v in visits if int(str(v[3])[8:10]) > 12]
        for v in rng.sample(swappable, min(2, len(swappable))):
            d = date.fromisoformat(str(v[3]))
            v[3] = f"{d.year}-{d.day:02d}-{d.month:02d}"
        plain = [v for v in visits if len(str(v[3])) == 10 and str(v[3])[4] == "-" and int(str(v[3])[5:7]) <= 12]
        for v in rng.sample(plain, min(3, len(plain))):
            d = date.fromisoformat(str(v[3]))
            v[3] = f"{d.day:02d}/{d.month:02d}/{d.year}"
        self.out.add("sales_visits", ["visit_id", "sales_rep_id", "customer_id", "visit_date", "visit_type",
                                      "duration_minutes"], visits)

    # --- point of sale and web shop ------------------------------------------------------------------
    def sales(self) -> None:
        rng = self.rng("sales")
        weights = [2.0 if c[2] == "consumer" else 1.0 for c in self.customers]
        signups = [c[3] if isinstance(c[3], date) else START for c in self.customers]
        store_weights = [s[6] for s in STORES]
        product_weights = [p[8] for p in PRODUCTS]
        collapse_store = self.store_id[COLLAPSE_STORE]
        orders: list[Row] = []
        lines: list[Row] = []
        self.units_sold: dict[date, dict[int, int]] = {}
        self.order_day: dict[int, date] = {}
        self.order_value: dict[int, tuple[float, float]] = {}  # order -> (revenue, gross profit)
        would_be: dict[tuple[int, date], int] = defaultdict(int)  # orders before the planted collapse
        active: list[int] = []
        next_customer = 0
        order_customers = sorted(range(len(self.customers)), key=lambda i: signups[i])
        for day in self.calendar:
            while next_customer < len(order_customers) and signups[order_customers[next_customer]] <= day:
                active.append(order_customers[next_customer])
                next_customer += 1
            pool = active or [order_customers[0]]
            pool_weights = [weights[i] for i in pool]
            promo = self.promo_by_day.get(day)
            expected = self.expected_orders(day)
            count = max(1, round(rng.gauss(expected, math.sqrt(expected))))
            buyers = [self.customers[i] for i in rng.choices(pool, pool_weights, k=count)]
            buyers += [self.customers[cid - 1] for cid in self.visit_orders.get(day, [])]
            sold: dict[int, int] = defaultdict(int)
            for customer in buyers:
                store = rng.choices(STORES, store_weights)[0]
                would_be[(store[0], day)] += 1
                if (store[0] == collapse_store and COLLAPSE[0] <= day <= COLLAPSE[1]
                        and rng.random() < COLLAPSE_ORDER_LOSS):
                    continue  # planted: the card terminals are down, the customer walks out
                order_id = len(self.order_day) + 1
                self.order_day[order_id] = day
                loaded = datetime.combine(day, time(20, 0)) + timedelta(minutes=rng.randrange(0, 240))
                if rng.random() < 0.02:  # planted: a till that syncs days late
                    loaded += timedelta(days=rng.randrange(2, 10))
                row: Row = [order_id, customer[0], store[0], day, promo.code if promo else None, loaded]
                orders.append(row)
                if rng.random() < 0.002:  # planted: the same order landed twice
                    orders.append(list(row))
                revenue = profit = 0.0
                for _ in range(1 + int(rng.random() * 2.2)):
                    product = rng.choices(PRODUCTS, product_weights)[0]
                    discount_pct = promo.discount_pct if promo else (0.1 if rng.random() < 0.05 else 0.0)
                    quantity = 1 + int(rng.random() * 2.5)
                    discount: float | None = round(product[4] * discount_pct, 2)
                    revenue += quantity * (product[4] - (discount or 0.0))
                    profit += quantity * (product[4] - (discount or 0.0) - product[5])
                    if rng.random() < 0.01:
                        discount = None  # planted: the till did not record the discount
                    lines.append([len(lines) + 1, order_id, product[0], quantity, product[4], discount])
                    sold[product[0]] += quantity
                self.order_value[order_id] = (revenue, profit)
            self.units_sold[day] = dict(sold)
        self.out.add("stores", ["store_id", "store_name", "region", "channel", "opened_date", "sales_area_m2"],
                     [list[object](s[:6]) for s in STORES])
        self.out.add("promotions", ["promotion_id", "promotion_code", "promotion_name", "start_date", "end_date",
                                    "discount_pct"],
                     [[p.promotion_id, p.code, p.name, p.start, p.end, p.discount_pct] for p in self.promotions])
        self.out.add("orders", ["order_id", "customer_id", "store_id", "ordered_at", "promotion", "loaded_at"], orders)
        self.out.add("order_lines", ["order_line_id", "order_id", "product_id", "quantity", "unit_price",
                                     "discount_per_unit"], lines)

        # footfall: the visitors behind the orders (those lost in the collapse included), so that
        # conversion stays steady at this small volume; promotions convert better (+40 % orders, +20 % visitors)
        rng = self.rng("traffic")
        traffic: list[Row] = []
        for day in self.calendar:
            for store in STORES:
                orders_seen = 0.3 * self.expected_orders(day) * store[6] + 0.7 * would_be[(store[0], day)]
                visitors = orders_seen / store[7]
                if day in self.promo_by_day:
                    visitors *= 1.2 / 1.4
                traffic.append([day, store[0], max(1, round(visitors * rng.gauss(1.0, 0.05)))])
        self.out.add("store_traffic", ["traffic_date", "store_id", "footfall"], traffic)

    # --- marketing ---------------------------------------------------------------------------------
    def marketing(self) -> None:
        rng = self.rng("marketing")
        campaigns: list[Row] = []
        active: dict[tuple[int, date], list[int]] = defaultdict(list)
        objectives = {"paid_search": "conversion", "paid_social": "awareness", "email": "retention",
                      "display": "awareness", "affiliate": "conversion"}
        for channel in CHANNELS:
            first = START
            n = 1
            while first <= self.end:
                last = min(self.end, first + timedelta(days=rng.randrange(60, 121)))
                name = f"{channel[1].replace('_', ' ').title()} always-on {first:%Y-%m} #{n}"
                campaigns.append([len(campaigns) + 1, name, channel[0], first, last, objectives[channel[1]]])
                first, n = last + timedelta(days=1), n + 1
        for promo in self.promotions:
            for channel_name in ("paid_social", "email"):
                first = promo.start - timedelta(days=3)
                campaigns.append([len(campaigns) + 1, f"{promo.name} ({channel_name})",
                                  self.channel_id[channel_name], first, min(promo.end, self.end), "promotion"])
        for c in campaigns:
            first, last = date.fromisoformat(str(c[3])), date.fromisoformat(str(c[4]))
            for day in _days(max(START, first), min(self.end, last)):
                active[(int(str(c[2])), day)].append(int(str(c[0])))
        self.out.add("marketing_channels", ["channel_id", "channel_name", "channel_group", "billing_currency"],
                     [[c[0], c[1], c[2], c[3]] for c in CHANNELS])
        self.out.add("campaigns", ["campaign_id", "campaign_name", "channel_id", "start_date", "end_date",
                                   "objective"], campaigns)

        # attribution: last click, drawn per order
        attributed: list[Row] = []
        attributed_revenue: dict[tuple[int, date], float] = defaultdict(float)
        for order_id, day in self.order_day.items():
            slump = (day.year, day.month) == ROI_SLUMP_MONTH
            r = rng.random()
            for channel in CHANNELS:
                share = channel[4] * (ROI_SLUMP_ORDERS if slump and channel[1] == ROI_SLUMP_CHANNEL else 1.0)
                if r < share:
                    campaign = rng.choice(active[(channel[0], day)])
                    attributed.append([order_id, campaign, channel[0], "last_click"])
                    attributed_revenue[(channel[0], day)] += self.order_value[order_id][0]
                    break
                r -= share
        self.out.add("attributed_orders", ["order_id", "campaign_id", "channel_id", "attribution_model"],
                     attributed)

        # spend: sized to the gross profit a channel is expected to bring at its usual ROI
        profit_per_order = sum(v[1] for v in self.order_value.values()) / max(1, len(self.order_value))
        spend_rows: list[Row] = []
        self.expected_spend: dict[tuple[str, date], float] = defaultdict(float)
        for day in self.calendar:
            for channel in CHANNELS:
                cid, name, _group, currency, share, roi, cpm, ctr = channel
                if name == "affiliate":
                    eur = attributed_revenue[(cid, day)] * AFFILIATE_COMMISSION
                    planned = self.expected_orders(day) * share * profit_per_order / 4.6
                else:
                    planned = self.expected_orders(day) * share * profit_per_order / roi
                    eur = planned * rng.gauss(1.0, 0.12)
                self.expected_spend[(name, _month_start(day))] += planned
                if name == ROI_SLUMP_CHANNEL and (day.year, day.month) == ROI_SLUMP_MONTH:
                    eur *= ROI_SLUMP_SPEND  # planted: the budget cap was lost
                ids = active[(cid, day)]
                for campaign in ids:
                    part = max(0.0, eur / len(ids))
                    impressions = round(part / cpm * 1000 * rng.uniform(0.9, 1.1))
                    clicks = round(impressions * ctr * rng.uniform(0.85, 1.15))
                    billed = part / self.fx(_month_start(day), currency)
                    spend_rows.append([day, campaign, round(billed, 2), currency, impressions, clicks])
        self.out.add("campaign_spend", ["spend_date", "campaign_id", "spend", "currency", "impressions", "clicks"],
                     spend_rows)
        self.profit_per_order = profit_per_order

    # --- ERP: production, purchasing, inventory -------------------------------------------------------
    def erp(self) -> None:
        rng = self.rng("erp")
        capacity = max(1.0, self.scale.orders_per_day / 12.0)  # the workshop is sized to demand
        made = {p[0]: p for p in PRODUCTS if p[6] is not None}
        bought = {p[0]: p for p in PRODUCTS if p[6] is None}
        total: dict[int, int] = defaultdict(int)
        for sold in self.units_sold.values():
            for pid, q in sold.items():
                total[pid] += q
        history: dict[int, list[int]] = {p[0]: [] for p in PRODUCTS}

        def rate(pid: int) -> float:
            recent = history[pid][-28:]
            if len(recent) < 28:
                return max(0.5, total[pid] / max(1, self.scale.days))
            return max(0.5, sum(recent) / 28.0)

        stock = {p[0]: round(rate(p[0]) * 20) for p in PRODUCTS}
        runs: list[Row] = []
        run_id = 0
        pos: list[Row] = []
        receipts: dict[date, list[tuple[int, int]]] = defaultdict(list)
        open_qty: dict[int, int] = defaultdict(int)
        balances: list[Row] = []
        spike_line = self.line_id[DEFECT_SPIKE_LINE]
        for day in self.calendar:
            for pid, qty in receipts.pop(day, []):
                stock[pid] += qty
                open_qty[pid] -= qty
            if day.weekday() < 5:
                for line_id, _name, _site in LINES:
                    products = sorted((p for p in made.values() if p[6] == line_id),
                                      key=lambda p: (stock[p[0]] / rate(p[0]), p[0]))
                    shift = 0
                    for p in products:
                        if stock[p[0]] / rate(p[0]) >= 18 or shift == 3:
                            continue
                        shift += 1
                        cycle = round(float(str(p[7])) / capacity)
                        batch = max(4, math.ceil(rate(p[0]) * 3))
                        planned = min(450, 5 * math.ceil(batch * cycle / 60 / 0.85 / 5))
                        downtime = rng.uniform(0.03, 0.12) + (rng.uniform(0.15, 0.4) if rng.random() < 0.04 else 0)
                        run_minutes = round(planned * (1 - downtime))
                        produced = max(1, int(run_minutes * 60 * rng.uniform(0.86, 0.97) / cycle))
                        spike = line_id == spike_line and DEFECT_SPIKE[0] <= day <= DEFECT_SPIKE[1]
                        p_defect = DEFECT_SPIKE_RATE if spike else LINE_DEFECT_RATE[line_id]
                        defective = sum(1 for _ in range(produced) if rng.random() < p_defect)
                        stock[p[0]] += produced - defective
                        loaded = datetime.combine(day + timedelta(days=1), time(6, 15))
                        if rng.random() < 0.03:  # planted: a line terminal that uploads late
                            loaded += timedelta(days=rng.randrange(2, 12))
                        run_id += 1
                        row: Row = [run_id, line_id, p[0], day, shift, planned,
                                    run_minutes, cycle, produced, defective, loaded]
                        runs.append(row)
                        if rng.random() < 0.005:  # planted: a run exported twice
                            runs.append(list(row))
            for pid, item in bought.items():
                supplier, currency, lead = SUPPLIERS[pid]
                if stock[pid] + open_qty[pid] < rate(pid) * (lead + 16):
                    qty = 10 * math.ceil(rate(pid) * 30 / 10)
                    actual = lead + rng.choice((-2, -1, 0, 0, 0, 0, 0, 1, 3, 6))
                    received = day + timedelta(days=actual)
                    price = item[5] / self.fx(_month_start(day), currency) * rng.uniform(0.97, 1.03)
                    pos.append([len(pos) + 1, supplier, pid, day, day + timedelta(days=lead),
                                received if received <= self.end else None, qty, round(price, 2), currency])
                    receipts[received].append((pid, qty))
                    open_qty[pid] += qty
            for pid in stock:
                sold_today = self.units_sold[day].get(pid, 0)
                stock[pid] -= sold_today
                history[pid].append(sold_today)
                balances.append([day, pid, "main", stock[pid]])
        self.out.add("products", ["product_id", "sku", "product_name", "category", "list_price", "unit_cost",
                                  "production_line_id"], [list[object](p[:7]) for p in PRODUCTS])
        self.out.add("production_lines", ["production_line_id", "line_name", "site"],
                     [list[object](line) for line in LINES])
        self.out.add("production_runs", ["run_id", "production_line_id", "product_id", "run_date", "shift",
                                         "planned_minutes", "run_minutes", "ideal_cycle_time_s", "units_produced",
                                         "units_defective", "loaded_at"], runs)
        self.out.add("purchase_orders", ["purchase_order_id", "supplier", "product_id", "ordered_date",
                                         "expected_date", "received_date", "quantity", "unit_cost", "currency"],
                     pos)
        self.out.add("inventory_balances", ["balance_date", "product_id", "warehouse", "on_hand_units"], balances)
        self.out.add("fx_rates", ["month_start", "currency", "eur_per_unit"],
                     [[m, cur, self.fx(m, cur)] for m in self.months for cur in ("EUR", "GBP", "USD")])

    # --- finance's targets ---------------------------------------------------------------------------
    def targets(self) -> None:
        values = list(self.order_value.values())
        aov = sum(v[0] for v in values) / max(1, len(values))
        rows: list[Row] = []
        company = (("revenue", 0.25), ("gross_margin_pct", 0.15), ("average_order_value", 0.05),
                   ("new_customers", 0.10), ("customer_acquisition_cost", 0.10), ("oee", 0.10),
                   ("inventory_turnover_days", 0.05), ("project_completion_rate", 0.10),
                   ("sales_visit_conversion_rate", 0.10))
        spend_total = sum(self.expected_spend.values())
        newcomers = sum(1 for c in self.customers if isinstance(c[3], date) and c[3] >= START)
        cac = spend_total / max(1, newcomers)

        def expected_new(days: list[date]) -> float:  # the signup density 0.6 + 0.8 t over the period
            t = [(d - START).days / self.scale.days for d in days]
            return newcomers * sum(0.6 + 0.8 * x for x in t) / self.scale.days
        for month in self.months:
            days = [d for d in self.calendar if _month_start(d) == month]
            expected_orders = sum(self.expected_orders(d) for d in days)
            growth = 1.0 + 0.02 * (month.year - START.year)
            company_values = {"revenue": round(expected_orders * aov * 1.03 * growth, -2),
                              "gross_margin_pct": 55.0, "average_order_value": round(aov * 1.02, 2),
                              "new_customers": round(expected_new(days) * 1.1),
                              "customer_acquisition_cost": round(cac * 0.95, 2), "oee": 0.78,
                              "inventory_turnover_days": 25.0, "project_completion_rate": 0.85,
                              "sales_visit_conversion_rate": 0.35}
            for metric, weight in company:
                rows.append([metric, "month", month, "company", company_values[metric], weight])
            for store in STORES:
                rows.append(["revenue", "month", month, store[1],
                             round(expected_orders * store[6] * aov * 1.03 * growth, -2), 0.6])
                rows.append(["store_conversion_rate", "month", month, store[1], round(store[7] * 0.9, 4), 0.4])
            for channel in CHANNELS:
                rows.append(["channel_roi", "month", month, channel[1], ROI_TARGET[channel[1]], 0.7])
                rows.append(["marketing_spend", "month", month, channel[1],
                             round(self.expected_spend[(channel[1], month)] * 1.05, -1), 0.3])
            for line_id, name, _site in LINES:
                rows.append(["oee", "month", month, name, 0.78, 0.6])
                rows.append(["defect_rate", "month", month, name, round(LINE_DEFECT_RATE[line_id] * 1.6, 4), 0.4])
        self.out.add("targets", ["metric_name", "period_grain", "period_start", "org_unit", "target_value",
                                 "weight"], rows)


def build(scale: DemoScale = DemoScale()) -> Tables:
    """Simulate the company; the tables in memory, not yet written."""
    company = _Company(scale)
    company.people()
    company.projects()
    company.crm()
    company.sales()
    company.marketing()
    company.erp()
    company.targets()
    return company.out


def generate(folder: Path, scale: DemoScale = DemoScale()) -> dict[str, int]:
    """Write the demo seeds into `folder`; returns the row count per file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, (header, rows) in sorted(build(scale).tables.items()):
        _write(folder / f"{name}.csv", header, rows)
        counts[name] = len(rows)
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    defaults = DemoScale()
    parser = argparse.ArgumentParser(prog="python -m metricsctl.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("seeds"), help="folder for the CSVs (default: seeds)")
    parser.add_argument("--days", type=int, default=defaults.days, help="days from 2024-01-01")
    parser.add_argument("--orders-per-day", type=int, default=defaults.orders_per_day)
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    counts = generate(args.out, DemoScale(args.days, args.orders_per_day, args.customers, args.seed))
    width = max(len(n) for n in counts)
    for name, count in counts.items():
        print(f"{name:<{width}}  {count:>7,}")
    print(f"{'total':<{width}}  {sum(counts.values()):>7,}")


if __name__ == "__main__":
    main()
