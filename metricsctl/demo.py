"""The demo company's source systems: a deterministic generator of its seed CSVs.

A maker of consumer goods selling through its own stores and an online shop. The same schemas come out
at any scale (`metricsctl demo-data --days 548 --orders-per-day 12`), with weekly and yearly
seasonality and promotions; the same arguments always give the same files.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

START = date(2024, 1, 1)
REGIONS = ("north", "south", "east", "west")
STORES = ((1, "Harbour Street", "north", "store"), (2, "Mill Yard", "south", "store"),
          (3, "Riverside", "east", "store"), (4, "Old Market", "west", "store"),
          (5, "Online shop", "online", "online"))
PRODUCTS = ((1, "Steel kettle", "kitchen", 39.0, 17.5), (2, "Two-slice toaster", "kitchen", 45.0, 21.0),
            (3, "Chef's knife", "kitchen", 59.0, 22.0), (4, "Linen throw", "home", 79.0, 31.0),
            (5, "Table lamp", "home", 64.0, 27.5), (6, "Wool rug", "home", 189.0, 88.0),
            (7, "Desk organiser", "office", 24.0, 8.5), (8, "Notebook set", "office", 14.0, 4.0))
WEEKDAY_FACTOR = (0.8, 0.85, 0.9, 1.0, 1.25, 1.5, 1.1)  # Monday .. Sunday


@dataclass(frozen=True)
class DemoScale:
    days: int = 547  # eighteen months: 2024-01-01 .. 2025-06-30
    orders_per_day: int = 12
    customers: int = 400
    seed: int = 7


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _promotion(day: date) -> str | None:
    """Two promotions a year: a spring sale and a November week."""
    if day.month == 3 and 10 <= day.day <= 23:
        return "spring_sale"
    if day.month == 11 and 20 <= day.day <= 27:
        return "black_week"
    return None


def generate(folder: Path, scale: DemoScale = DemoScale()) -> dict[str, int]:
    """Write the demo seeds into `folder`; returns the row count per file."""
    rng = random.Random(scale.seed)
    folder.mkdir(parents=True, exist_ok=True)
    customers: list[list[object]] = []
    for cid in range(1, scale.customers + 1):
        signup = START + timedelta(days=int(rng.random() ** 1.5 * scale.days))
        customers.append([cid, rng.choice(REGIONS), rng.choice(["consumer", "consumer", "business"]),
                          signup.isoformat()])
    signups = [str(c[3]) for c in customers]
    _write(folder / "customers.csv", ["customer_id", "region", "segment", "signup_date"], customers)
    _write(folder / "stores.csv", ["store_id", "store_name", "region", "channel"], [list[object](s) for s in STORES])
    _write(folder / "products.csv", ["product_id", "product_name", "category", "list_price", "unit_cost"],
           [list[object](p) for p in PRODUCTS])
    orders: list[list[object]] = []
    lines: list[list[object]] = []
    for d in range(scale.days):
        day = START + timedelta(days=d)
        season = 1.0 + 0.25 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 80) / 365.0)
        promo = _promotion(day)
        expected = scale.orders_per_day * WEEKDAY_FACTOR[day.weekday()] * season * (1.4 if promo else 1.0)
        active = [c for c, signup in zip(customers, signups) if signup <= day.isoformat()] or customers[:1]
        for _ in range(max(1, round(rng.gauss(expected, math.sqrt(expected))))):
            order_id = len(orders) + 1
            customer = rng.choice(active)
            store = rng.choice(STORES)
            orders.append([order_id, customer[0], store[0], day.isoformat(), promo or ""])
            for _ in range(1 + int(rng.random() * 2.2)):
                product = rng.choice(PRODUCTS)
                discount = 0.2 if promo else (0.1 if rng.random() < 0.05 else 0.0)
                lines.append([len(lines) + 1, order_id, product[0], 1 + int(rng.random() * 2.5),
                              product[3], round(product[3] * discount, 2)])
    _write(folder / "orders.csv", ["order_id", "customer_id", "store_id", "ordered_at", "promotion"], orders)
    _write(folder / "order_lines.csv",
           ["order_line_id", "order_id", "product_id", "quantity", "unit_price", "discount_per_unit"], lines)
    return {"customers": len(customers), "stores": len(STORES), "products": len(PRODUCTS),
            "orders": len(orders), "order_lines": len(lines)}
